/**
 * The scheduler's routes (issue 18; docs/scheduler.md): a cluster's plan and history, scale, and
 * rebalance. Plans and dry runs are computed by any server from the shared state; a count is
 * written by the route and followed by the loop's leader; a rebalance is a request the leader's
 * tick carries out (schedule-rebalance.ts), so only the leader writes placements.
 *
 *   GET  /clusters/:tag/plan        viewer of the cluster     ClusterPlanView (nothing changes)
 *   GET  /clusters/:tag/placements  viewer of the cluster     PlacementEventView[] (?limit, ?before)
 *   POST /clusters/:tag/scale       deployer of the cluster   {count} ──► ClusterPlanView
 *   POST /rebalance                 deployer (moves only the clusters it may change)  RebalanceView, once the leader made the moves
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type * as T from '../../api/index.js';
import { CHANNELS } from '../../bus/index.js';
import { NoopsError } from '../../errors/index.js';
import { authorize, canSee, roleCovers } from '../auth.js';
import type { ServerContext } from '../context.js';
import { requestRebalance } from '../schedule-rebalance.js';
import type { ScheduleService } from '../schedule-wiring.js';
import { parseBody, parseQuery } from './parse.js';

const ScaleBody = z.object({ count: z.number().int('a count is a whole number').min(0).max(100_000) }).strict();
const RebalanceBody = z
  .object({
    maxMoves: z.number().int().min(0).max(100_000).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();
const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  before: z.coerce.number().int().min(1).optional(),
});

/** Moves a rebalance makes when not told (`--max-moves`). */
export const DEFAULT_MAX_MOVES = 10;

export async function scheduleRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  /**
   * The plan as `who` may read it: reads are scoped like writes, so a team sees why its own hosts
   * (assigned to its part of the tree) were left out, never the names and nodes of other teams' or
   * unassigned hosts. The placements are the cluster's hosts, which its view shows already.
   */
  const visiblePlan = async (who: T.WhoamiView, plan: T.ClusterPlanView): Promise<T.ClusterPlanView> => {
    const { tag, placements, unplaced } = plan;
    if (who.kind === 'admin') return { tag, placements, filtered: plan.filtered, unplaced };
    const scopes = new Map((await ctx.store.listHosts()).map((h) => [h.name, h.scope]));
    const filtered = plan.filtered.filter((f) => {
      const scope = scopes.get(f.host);
      return scope != null && canSee(who, scope);
    });
    return { tag, placements, filtered, unplaced };
  };
  /** Why a cluster has no plan: it does not exist, or names its hosts by hand. */
  const notPlanned = async (tag: string): Promise<NoopsError> =>
    (await ctx.store.getCluster(tag)) ? notScheduled(tag) : unknownCluster(tag);
  const service = (): ScheduleService => {
    if (!ctx.schedule) throw new NoopsError('NOOPS_E_INTERNAL', 'this server runs no scheduler');
    return ctx.schedule;
  };

  api.get<{ Params: { tag: string } }>('/clusters/:tag/plan', { config: { access: 'viewer' } }, async (req): Promise<T.ClusterPlanView> => {
    const tag = await ctx.tags.resolve(req.params.tag, { level: 'cluster' });
    authorize(req.principal, tag, 'viewer');
    const plan = await service().loop.preview(tag);
    if (!plan) throw await notPlanned(tag);
    return visiblePlan(req.principal, plan);
  });

  api.get<{ Params: { tag: string } }>(
    '/clusters/:tag/placements',
    { config: { access: 'viewer' } },
    async (req): Promise<T.PlacementEventView[]> => {
      const tag = await ctx.tags.resolve(req.params.tag, { level: 'cluster' });
      authorize(req.principal, tag, 'viewer');
      const q = parseQuery(HistoryQuery, req.query, 'cluster placements');
      return ctx.store.listPlacements({ tag, limit: q.limit, before: q.before });
    },
  );

  api.post<{ Params: { tag: string } }>(
    '/clusters/:tag/scale',
    { config: { access: 'deployer' } },
    async (req): Promise<T.ClusterPlanView> => {
      const tag = await ctx.tags.resolve(req.params.tag, { level: 'cluster' });
      authorize(req.principal, tag, 'deployer');
      const body = parseBody(ScaleBody, req.body, 'scale');
      const at = new Date().toISOString();
      // the spec read and written in one transaction, its row locked: a scale, or a `cluster set`,
      // that runs at the same time is not overwritten with the spec as it was before it
      await ctx.store.tx(async (s) => {
        const spec = await s.schedule.lockClusterSchedule(tag);
        if (spec === undefined) throw unknownCluster(tag);
        if (spec === null) throw notScheduled(tag);
        await s.schedule.setClusterSchedule(tag, { ...spec, count: body.count });
        await s.audit({
          at,
          actor: req.principal.name,
          action: 'cluster.scale',
          target: tag,
          detail: { from: spec.count, to: body.count },
        });
      });
      await ctx.bus.publish(CHANNELS.schedule, 'wake');
      const plan = await service().loop.preview(tag);
      if (!plan) throw notScheduled(tag);
      return visiblePlan(req.principal, plan);
    },
  );

  api.post('/rebalance', { config: { access: 'deployer' } }, async (req): Promise<T.RebalanceView> => {
    const body = parseBody(RebalanceBody, req.body ?? {}, 'rebalance');
    const who = req.principal;
    const mayMove = (tag: string): boolean => who.kind === 'admin' || (canSee(who, tag) && roleCovers(who.role, 'deployer'));
    const maxMoves = body.maxMoves ?? DEFAULT_MAX_MOVES;
    if (body.dryRun === true) return { ...(await service().loop.previewRebalance(maxMoves, mayMove)), dryRun: true };
    service(); // a server without a scheduler says so, as for a dry run
    // the leader's tick makes the moves (schedule-rebalance.ts): only it writes placements
    const movable =
      who.kind === 'admin'
        ? null
        : (await ctx.store.listClusters()).filter((c) => c.schedule !== undefined && mayMove(c.tag)).map((c) => c.tag);
    if (movable !== null && movable.length === 0) return { dryRun: false, moves: [], freedHosts: [] };
    return requestRebalance(ctx, { actor: who.name, maxMoves, movable });
  });
}

function unknownCluster(tag: string): NoopsError {
  return new NoopsError('NOOPS_E_CLUSTER_UNKNOWN', `${tag} is not a cluster yet: it has neither hosts nor a count`, {
    hint: `give it a count: \`noops cluster set -t ${tag} --count N\``,
  });
}

function notScheduled(tag: string): NoopsError {
  return new NoopsError('NOOPS_E_NOT_SCHEDULED', `${tag} names its hosts by hand: it has no count to plan or scale`);
}
