/**
 * What the agents' supervisors report, for people and for the monitoring to come: the latest
 * per-process metrics (Open-Falcon samples), recent events, and the crons with their last run.
 * Kept in memory from the agents' reports by the read model of what runs (src/monitor/).
 */
import type { FastifyInstance } from 'fastify';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import { isUnder, parseSelector } from '../../tree/index.js';
import { z } from 'zod';
import { canSee, isServerAdmin } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseQuery } from './parse.js';
import { seriesAllowed, tagsByHost } from './metrics-scope.js';

/** The most events one request returns. */
const MAX_EVENTS = 5000;

export async function supervisionRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  /** GET /metrics?selector=cop=acme,job=web&host=h1&metric=common.servicerunning: the latest point of every series (monitor/metrics/ingest.ts) */
  api.get('/metrics', { config: { access: 'viewer' } }, async (req): Promise<T.MetricSample[]> => {
    const q = parseQuery(
      z.object({ selector: z.string().optional(), host: z.string().optional(), metric: z.string().optional() }).strict(),
      req.query,
      'metrics',
    );
    const sel = q.selector ? parseSelector(q.selector) : undefined;
    // an instance's series by its tag (its tags hold the node's pairs); a host's by the host's clusters, scope and instances
    const hostTags = isServerAdmin(req.principal) && sel === undefined ? undefined : await tagsByHost(ctx);
    const out: T.MetricSample[] = [];
    const now = Date.now();
    for (const p of ctx.metrics.ingest.latest()) {
      // a series no longer sent (an instance undeployed, a host gone) leaves the list, as its report's metrics did
      if (now - p.lastReceived > Math.max(3 * p.step * 1000, ctx.config.downAfterMs)) continue;
      if (q.host !== undefined && p.endpoint !== q.host) continue;
      if (q.metric !== undefined && p.metric !== q.metric) continue;
      if (!seriesAllowed(req.principal, p, hostTags, sel)) continue;
      out.push({
        endpoint: p.endpoint,
        metric: p.metric,
        value: p.lastValue,
        timestamp: p.lastTs,
        step: p.step,
        // COUNTER and DERIVE series too, once agents and pushes send them (the wire type widens with the report's)
        counterType: p.counterType as T.MetricSample['counterType'],
        tags: p.tags,
      });
    }
    return out;
  });

  /** GET /events?tag=T&host=H&limit=N: newest last */
  api.get('/events', { config: { access: 'viewer' } }, async (req): Promise<T.EventView[]> => {
    const q = parseQuery(
      z.object({ tag: z.string().optional(), host: z.string().optional(), limit: z.string().optional() }).strict(),
      req.query,
      'events',
    );
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new NoopsError('NOOPS_E_INPUT', `limit must be a positive whole number, not "${q.limit}"`);
    const node = q.tag ? await ctx.tags.resolveAny(q.tag) : undefined;
    // A host's own events (no tag) are the admin's; a team sees its instances' events.
    const rows = ctx.reports
      .recentEvents(q.host)
      .filter(
        (e) =>
          (e.tag === null ? isServerAdmin(req.principal) : canSee(req.principal, e.tag)) &&
          (node === undefined || (e.tag !== null && isUnder(e.tag, node))),
      );
    return rows.slice(-Math.min(limit, MAX_EVENTS));
  });

  /** GET /crons?tag=T&host=H */
  api.get('/crons', { config: { access: 'viewer' } }, async (req): Promise<T.CronView[]> => {
    const q = parseQuery(z.object({ tag: z.string().optional(), host: z.string().optional() }).strict(), req.query, 'crons');
    const node = q.tag ? await ctx.tags.resolveAny(q.tag) : undefined;
    return ctx.reports.crons(q.host).filter((c) => canSee(req.principal, c.tag) && (node === undefined || isUnder(c.tag, node)));
  });
}
