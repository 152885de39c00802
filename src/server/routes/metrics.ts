/**
 * Metrics (issue 15): Falcon's push API (`POST /push`), the series the store holds
 * (`GET /metrics/series`) and a series' history (`GET /metrics/history`).
 *
 * Who may push for what: an agent's token for its own host only; the admin for anything; a
 * team's token with role deployer for hosts and instances in its subtree (a host's point names a
 * host in a cluster, the scope or an instance of the subtree; an instance's point carries its
 * node's pairs in its tags and names such a host too). A push naming anything else is refused whole (403). Reads are
 * scoped the same way, with role viewer.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkFalconPush, type HistoryView, MAX_PUSH_ITEMS, type PushAnswer, type SeriesList, type SeriesView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { instanceTagOf } from '../../monitor/index.js';
import { matches, parseSelector, type Selector } from '../../tree/index.js';
import { canSee, isServerAdmin, roleCovers } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { parseQuery } from './parse.js';

/** A push's largest body: MAX_PUSH_ITEMS items with long tags (510 characters each) fit. */
const PUSH_MAX_BYTES = 8 * 1024 * 1024;
/** Series one list answers by default, and at most. */
const SERIES_DEFAULT = 1000;
const SERIES_MAX = 10_000;
/** History asked without `from`: the last hour. */
const DEFAULT_SPAN_SECONDS = 3600;

/** Every host's tree tags: the clusters naming it, its scope, the instances it runs. */
export async function tagsByHost(ctx: ServerContext): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  const add = (host: string, tag: string) => {
    let set = out.get(host);
    if (set === undefined) out.set(host, (set = new Set()));
    set.add(tag);
  };
  for (const c of await ctx.store.listClusters()) for (const h of c.hosts) add(h, c.tag);
  for (const h of await ctx.store.listHosts()) if (h.scope !== null) add(h.name, h.scope);
  for (const p of ctx.reports.instances()) add(p.host, p.tag);
  return out;
}

/**
 * Whether `who` may see (or push to) a series: an instance's through its tag, a host's through
 * the host's tags. `sel`: and it matches the selector.
 */
export function seriesAllowed(
  who: Principal,
  series: { endpoint: string; tags: string },
  hostTags: ReadonlyMap<string, ReadonlySet<string>> | undefined,
  sel?: Selector,
): boolean {
  const tag = instanceTagOf(series.tags);
  if (tag !== undefined) return canSee(who, tag) && (sel === undefined || matches(sel, tag));
  if (isServerAdmin(who) && sel === undefined) return true;
  const tags = hostTags?.get(series.endpoint);
  if (tags === undefined) return false;
  for (const t of tags) if (canSee(who, t) && (sel === undefined || matches(sel, t))) return true;
  return false;
}

function whole(raw: string | undefined, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new NoopsError('NOOPS_E_INPUT', `${name} must be a whole number of at least ${min}, not "${raw}"`);
  return n;
}

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
      const hostTags = await tagsByHost(ctx);
      // an instance's point: its tag under the team's node, and its endpoint a host of the team's
      const other = checked.points.find(
        (p) => !seriesAllowed(who, p, hostTags) || !seriesAllowed(who, { endpoint: p.endpoint, tags: '' }, hostTags),
      );
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

  /** GET /metrics/series?selector=S&host=H&metric=M&limit=N */
  api.get('/metrics/series', { config: { access: 'viewer' } }, async (req): Promise<SeriesList> => {
    const q = parseQuery(
      z
        .object({
          selector: z.string().optional(),
          host: z.string().optional(),
          metric: z.string().optional(),
          limit: z.string().optional(),
        })
        .strict(),
      req.query,
      'metric series',
    );
    const limit = Math.min(whole(q.limit, 'limit', 1) ?? SERIES_DEFAULT, SERIES_MAX);
    const sel = q.selector ? parseSelector(q.selector) : undefined;
    const hostTags = isServerAdmin(req.principal) && sel === undefined ? undefined : await tagsByHost(ctx);
    const out: SeriesView[] = [];
    for (const s of await ctx.store.listMetricSeries({ endpoint: q.host, metric: q.metric })) {
      if (!seriesAllowed(req.principal, s, hostTags, sel)) continue;
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
      if (out.length >= limit) break;
    }
    return { series: out };
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
    const hostTags = s === undefined || isServerAdmin(req.principal) ? undefined : await tagsByHost(ctx);
    if (s === undefined || !seriesAllowed(req.principal, s, hostTags))
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
