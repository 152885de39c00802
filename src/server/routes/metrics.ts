/**
 * Metrics (issue 15): Falcon's push API (`POST /push`), the series the store holds
 * (`GET /metrics/series`) and a series' history (`GET /metrics/history`).
 *
 * Who may push for what: an agent's token for its own host only; the admin for anything; a
 * team's token with role deployer for hosts and instances in its subtree (a host's point names a
 * host in a cluster, the scope or an instance of the subtree; an instance's point carries its
 * node's pairs in its tags and names such a host too). A push naming anything else is refused whole (403). Reads are
 * scoped the same way, with role viewer (metrics-scope.ts).
 *
 * The series list pages (paging.ts): `?limit=N&cursor=KEY`; when more follows, the body's `next`
 * (and the `x-noops-next` header) is the cursor of the next page.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkFalconPush, type HistoryView, MAX_PUSH_ITEMS, type PushAnswer, type SeriesList, type SeriesView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { parseSelector } from '../../tree/index.js';
import { isServerAdmin, roleCovers } from '../auth.js';
import type { ServerContext } from '../context.js';
import { type HostTags, seriesAllowed, tagsByHost } from './metrics-scope.js';
import { NEXT_HEADER, whole } from './paging.js';
import { parseQuery } from './parse.js';

/** A push's largest body: MAX_PUSH_ITEMS items with long tags (510 characters each) fit. */
const PUSH_MAX_BYTES = 8 * 1024 * 1024;
/** Series one page answers by default, and at most. */
const SERIES_DEFAULT = 1000;
const SERIES_MAX = 10_000;
/** Series rows read from the store at a time while a page is filled (a team's page may skip many). */
const SERIES_READ = 2000;
/** History asked without `from`: the last hour. */
const DEFAULT_SPAN_SECONDS = 3600;

export async function metricsRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  /** POST /push: Falcon's push body (a JSON list of points). */
  api.post('/push', { config: { access: 'any' }, bodyLimit: PUSH_MAX_BYTES }, async (req): Promise<PushAnswer> => {
    const started = performance.now();
    const who = req.principal;
    if (who.kind === 'join' || (who.kind === 'team' && !roleCovers(who.role, 'deployer')))
      throw new NoopsError('NOOPS_E_FORBIDDEN', `${who.kind} token "${who.name}" may not push metrics`, {
        hint: "push with the host's agent token, a team token with role deployer on the node, or the admin token",
      });
    const checked = checkFalconPush(req.body, Math.floor(Date.now() / 1000));
    if (checked === undefined)
      throw new NoopsError(
        'NOOPS_E_INPUT',
        Array.isArray(req.body)
          ? `a push holds at most ${MAX_PUSH_ITEMS} points, not ${req.body.length}`
          : "a push's body is a JSON list of points",
        {
          hint: Array.isArray(req.body)
            ? `split it into pushes of at most ${MAX_PUSH_ITEMS}`
            : 'send [{"endpoint":"host","metric":"m","timestamp":1700000000,"step":60,"value":1,"counterType":"GAUGE","tags":""}]',
        },
      );
    if (who.kind === 'agent') {
      const other = checked.points.find((p) => p.endpoint !== who.name);
      if (other)
        throw new NoopsError('NOOPS_E_FORBIDDEN', `agent ${who.name} may push only its own points, not endpoint ${other.endpoint}`, {
          hint: `push with endpoint "${who.name}", or with a person's token for other endpoints`,
        });
    } else if (!isServerAdmin(who)) {
      // an instance's point: its tag under the team's node, and its endpoint a host of the team's
      const refused = (hostTags: HostTags) =>
        checked.points.find((p) => !seriesAllowed(who, p, hostTags) || !seriesAllowed(who, { endpoint: p.endpoint, tags: '' }, hostTags));
      // a refusal is never from a kept read: a host just put in the team's cluster is the team's
      const other = refused(await tagsByHost(ctx)) && refused(await tagsByHost(ctx, { fresh: true }));
      if (other)
        throw new NoopsError(
          'NOOPS_E_FORBIDDEN',
          `token "${who.name}" may not push for endpoint ${other.endpoint} with tags "${other.tags}"`,
          {
            hint: `a team pushes for hosts and instances under its node (${who.scope ?? 'none'}); ask the admin to put the host in a cluster there`,
          },
        );
    }
    ctx.metrics.ingest.take(checked.points, who.kind === 'agent' ? { kind: 'agent', host: who.name } : { kind: 'push', by: who.name });
    const total = Array.isArray(req.body) ? req.body.length : 0;
    return {
      message: 'ok',
      total,
      invalid: checked.invalid.length,
      latency: Math.round(performance.now() - started),
      errors: checked.invalid,
    };
  });

  /** GET /metrics/series?selector=S&host=H&metric=M&limit=N&cursor=KEY: a page in key order */
  api.get('/metrics/series', { config: { access: 'viewer' } }, async (req, reply): Promise<SeriesList> => {
    const q = parseQuery(
      z
        .object({
          selector: z.string().optional(),
          host: z.string().optional(),
          metric: z.string().optional(),
          limit: z.string().optional(),
          cursor: z.string().min(1, 'a cursor is the `next` of the page before').optional(),
        })
        .strict(),
      req.query,
      'metric series',
    );
    const limit = Math.min(whole(q.limit, 'limit', 1) ?? SERIES_DEFAULT, SERIES_MAX);
    const sel = q.selector ? parseSelector(q.selector) : undefined;
    const hostTags = isServerAdmin(req.principal) && sel === undefined ? undefined : await tagsByHost(ctx);
    const out: SeriesView[] = [];
    let more = false;
    // read in pieces until the page is full and one more series is seen, or the store has no more
    const piece = hostTags === undefined ? limit + 1 : Math.max(limit + 1, SERIES_READ); // the admin's: every row is kept
    for (let after = q.cursor; ; ) {
      const rows = await ctx.store.listMetricSeries({ endpoint: q.host, metric: q.metric, after, limit: piece });
      for (const s of rows) {
        if (!seriesAllowed(req.principal, s, hostTags, sel)) continue;
        if (out.length === limit) {
          more = true;
          break;
        }
        out.push({
          key: s.key,
          endpoint: s.endpoint,
          metric: s.metric,
          tags: s.tags,
          counterType: s.counterType,
          step: s.step,
          lastTs: s.lastTs,
          lastValue: s.lastValue,
        });
      }
      if (more || rows.length < piece) break;
      after = rows[rows.length - 1]!.key;
    }
    if (!more) return { series: out };
    const next = out[out.length - 1]!.key;
    void reply.header(NEXT_HEADER, next);
    return { series: out, next };
  });

  /** GET /metrics/history?key=KEY&from=SEC&to=SEC&resolution=raw|N */
  api.get('/metrics/history', { config: { access: 'viewer' } }, async (req): Promise<HistoryView> => {
    const q = parseQuery(
      z
        .object({
          key: z.string().min(1, 'give a series key'),
          from: z.string().optional(),
          to: z.string().optional(),
          resolution: z.string().optional(),
        })
        .strict(),
      req.query,
      'metric history',
    );
    const to = whole(q.to, 'to', 0) ?? Math.floor(Date.now() / 1000);
    const from = whole(q.from, 'from', 0) ?? to - DEFAULT_SPAN_SECONDS;
    if (from > to) throw new NoopsError('NOOPS_E_INPUT', `from (${from}) is after to (${to})`);
    const [s] = await ctx.store.listMetricSeries({ keys: [q.key] });
    const allowed = async (fresh: boolean) =>
      s !== undefined && seriesAllowed(req.principal, s, isServerAdmin(req.principal) ? undefined : await tagsByHost(ctx, { fresh }));
    if (!(await allowed(false)) && !(await allowed(true)))
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no series ${q.key}`, {
        hint: '`GET /api/v1/metrics/series` (or `noops metrics series`) lists them',
      });
    const resolution = q.resolution === undefined ? undefined : q.resolution === 'raw' ? s.step : whole(q.resolution, 'resolution', 1);
    const answer = await ctx.metrics.history.query({
      key: s.key,
      endpoint: s.endpoint,
      metric: s.metric,
      tags: s.tags,
      counterType: s.counterType,
      step: s.step,
      from,
      to,
      resolution,
    });
    return {
      key: s.key,
      endpoint: s.endpoint,
      metric: s.metric,
      tags: s.tags,
      counterType: s.counterType,
      resolution: answer.resolution,
      points: answer.points,
    };
  });
}
