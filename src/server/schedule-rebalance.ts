/**
 * `noops rebalance` across servers (issue 18; docs/scheduler.md, "Rebalance"): the route on any
 * server records a request; the leader of the `schedule` loop carries it out at the start of its
 * next tick (schedule-loop.ts), planning on the state as it is then and writing the moves with the
 * request's end in one fenced transaction; the route waits for that end and answers the moves
 * made. Only the leader writes placements, so a rebalance cannot race a tick (a move lost under a
 * migration written between the rebalance's read and its write, or made twice).
 *
 *   POST /rebalance ──► rebalance_requests (pending) ──bus `schedule` wake──► leader's tick
 *     leader: plan ──► placements + history + audit + request done, together (fenced)
 *     route: polls the request until done ──► RebalanceView
 *            or, after REBALANCE_WAIT_MS, cancels it (if still pending) ──► NOOPS_E_NO_LEADER
 */
import type { RebalanceMoveView, RebalanceView } from '../api/index.js';
import { CHANNELS } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import type { NewPlacementEvent } from '../store/index.js';
import type { ServerContext } from './context.js';
import type { LoopCluster, PlacementChange } from './schedule-ports.js';
import { clusterInstances, placementOf } from './schedule-replicas.js';

/** How long the route waits for the leader to carry a rebalance out: as long as a rollout command waits (a dead leader's loop moves within its lease, seconds). */
export const REBALANCE_WAIT_MS = 15_000;
/** How often the route looks whether it is done: the leader's tick comes within a second of the wake, so a tenth of that. */
export const REBALANCE_POLL_MS = 100;

/**
 * A rebalance's moves as each cluster's new placements, with one `rebalance` event per move. A move
 * takes one instance: off a host that runs several replicas it lowers that host's count, onto a
 * host that runs the cluster already it raises it (schedule-replicas.ts).
 */
export function rebalanceChanges(clusters: readonly LoopCluster[], moves: readonly RebalanceMoveView[]): PlacementChange[] {
  const placed = new Map(clusters.map((c) => [c.tag, clusterInstances(c)]));
  const events = new Map<string, NewPlacementEvent[]>();
  for (const m of moves) {
    const now = placed.get(m.tag);
    const at = now?.indexOf(m.from) ?? -1;
    if (!now || at < 0) continue;
    now[at] = m.to;
    events.set(m.tag, [...(events.get(m.tag) ?? []), { tag: m.tag, kind: 'rebalance', from: m.from, to: m.to, reason: m.reason }]);
  }
  return [...events].map(([tag, evs]) => {
    const { hosts, replicas } = placementOf({ placements: countsOf(placed.get(tag)!) });
    return { tag, hosts, replicas, events: evs };
  });
}

/** One instance per entry, as `clusterInstances` lists them, to `{host, count}` in first-seen order. */
function countsOf(instances: readonly string[]): { host: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const h of instances) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts].map(([host, count]) => ({ host, count }));
}

/**
 * Records a rebalance for the loop's leader and waits until it is carried out; answers its moves.
 * @throws NoopsError NOOPS_E_NO_LEADER when no server carried it out within `waitMs` (it is then
 *   cancelled: nothing of it is made later)
 */
export async function requestRebalance(
  ctx: Pick<ServerContext, 'store' | 'bus' | 'schedule'>,
  r: { actor: string; maxMoves: number; movable: string[] | null },
  waitMs = REBALANCE_WAIT_MS,
): Promise<RebalanceView> {
  const { store } = ctx;
  const id = await store.schedule.addRebalanceRequest({ at: new Date().toISOString(), ...r });
  await ctx.bus.publish(CHANNELS.schedule, 'wake');
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await store.schedule.getRebalanceRequest(id);
    if (row?.status === 'done' && row.result) return { dryRun: false, moves: row.result.moves, freedHosts: row.result.freedHosts };
    // past the deadline, cancelled: the leader will not make it; not cancelled: it was made just now (read it)
    if (
      row?.status !== 'pending' ||
      (Date.now() >= deadline && (await store.schedule.cancelRebalanceRequest(id, new Date().toISOString())))
    )
      throw new NoopsError(
        'NOOPS_E_NO_LEADER',
        `no server carried the rebalance out within ${Math.round(waitMs / 1000)} s (none leads the scheduler now?); nothing was moved`,
      );
    if (Date.now() >= deadline) continue;
    await new Promise((done) => setTimeout(done, REBALANCE_POLL_MS));
  }
}
