/**
 * The scheduler's control loop (issue 18; docs/scheduler.md, "Scheduled clusters", "Migration"):
 * every tick (1 s, and at once when the bus says hosts or clusters changed) it plans each scheduled
 * cluster and applies only what changed, through its ports (schedule-ports.ts):
 *
 *   rebalance requests (POST /rebalance on any server) ──► planned and made, each with its request's end
 *   hosts + clusters ──► up? (heard within down_after) ──► migration budget (its window in the store) ──► planner
 *     plan differs ──► placements (cluster hosts, replicas per host) + history
 *       a new count on a host it runs ──► its desired entry's replicas, in place (a lower one
 *         once the replicas it removes are drained: schedule-drains.ts)
 *     then, per cluster, one step at a time (one deployment per cluster):
 *       a dead host's entry dropped (its copy stale, stopped when it returns)
 *       new hosts ──► deploy of the cluster's version to them only (health-gated)
 *       live hosts that left ──► undeploy of them only (drained first), after the new ones are healthy
 *     stale copies seen stopped ──► forgotten (history: `stale`)
 *
 * Only the server that leads `LOOPS.schedule` runs it (schedule-wiring.ts), and only it writes
 * placements: what it must carry on after a failover (the budget's window, rebalances asked) is in
 * the store, not in its memory.
 */
import { EventEmitter } from 'node:events';
import type { NewPlacementEvent } from '../store/index.js';
import { jobOf } from '../rollout/index.js';
import type { PlacementKind, RebalanceView } from '../api/index.js';
import { ReplicaDrainer } from './schedule-drains.js';
import type {
  LoopCluster,
  LoopHost,
  PlanAsk,
  PlanHost,
  PlanResult,
  Planner,
  ReplicaDrains,
  ScheduleState,
  ScheduleWriter,
} from './schedule-ports.js';
import { rebalanceChanges } from './schedule-rebalance.js';
import { clusterInstances, placementOf, replicaChanges, samePlacement } from './schedule-replicas.js';

/** A host unheard this long leaves its clusters (server option `--down-after`). */
export const DEFAULT_DOWN_AFTER_MS = 10_000;
/** At most this share of the fleet's hosts is vacated for being unheard per minute (at least one host). */
export const DEFAULT_MAX_MIGRATE_SHARE = 0.1;
/** How often the loop plans when nothing wakes it. */
export const TICK_MS = 1000;
/** A scheduler deploy that did not take is tried again after this long. */
export const RETRY_MS = 10_000;
/** The budget's window: `maxMigrateShare` of the hosts per this long (the "per minute"). */
export const MIGRATE_WINDOW_MS = 60_000;

export interface ScheduleLoopOptions {
  state: ScheduleState;
  write: ScheduleWriter;
  planner: Planner;
  /** the balancers, to drain the replicas a lower count removes first (none: they stop at once) */
  drains?: ReplicaDrains;
  downAfterMs?: number;
  maxMigrateShare?: number;
  /**
   * the loop's clock (tests set it). Absent: this process's for hosts' silence and retries, the
   * database's (`ScheduleState.now`) for the migration budget's window, which successive leaders share
   */
  now?: () => number;
  log?: (line: string) => void;
}

export interface ScheduleLoopEvents {
  /** a tick ended (tests wait on it) */
  ticked: [];
  /** a write was refused because another server took the loop (NOOPS_E_FENCED): this one leads no more */
  fenced: [reason: string];
}

/** See the file's comment. */
export class ScheduleLoop extends EventEmitter<ScheduleLoopEvents> {
  readonly downAfterMs: number;
  readonly maxMigrateShare: number;
  private readonly now: () => number;
  /** per cluster: when its last scheduler deployment was asked, to try again only after RETRY_MS */
  private readonly tried = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** `follow()` was called after the last `lead()`: a tick in flight writes nothing more */
  private followed = false;
  private readonly drainer: ReplicaDrainer;

  constructor(private readonly o: ScheduleLoopOptions) {
    super();
    this.drainer = new ReplicaDrainer(o.drains, { now: () => this.now(), log: (l) => this.log(l), wake: () => this.wake() });
    this.downAfterMs = o.downAfterMs ?? DEFAULT_DOWN_AFTER_MS;
    this.maxMigrateShare = o.maxMigrateShare ?? DEFAULT_MAX_MIGRATE_SHARE;
    this.now = o.now ?? Date.now;
  }

  /** Starts ticking (the leader). */
  lead(): void {
    this.followed = false;
    if (this.timer) return;
    this.timer = setInterval(() => this.wake(), TICK_MS);
    this.timer.unref();
    this.wake();
  }

  /** Stops ticking (another server leads, or this one stops); resolves once a tick in flight ended. */
  async follow(): Promise<void> {
    this.followed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Plans now, when this server leads the loop (a tick in flight is followed by one more). */
  wake(): void {
    if (!this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick()
      .catch((err: Error) => {
        if ((err as { code?: string }).code === 'NOOPS_E_FENCED') this.emit('fenced', err.message);
        else this.log(`schedule: ${err.message}`);
      })
      .finally(() => {
        this.running = undefined;
        this.emit('ticked');
        if (this.again && this.timer) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Whether a host last heard at `lastSeen` is up for the scheduler now. */
  isUp(h: Pick<LoopHost, 'lastSeen'>): boolean {
    return h.lastSeen !== null && this.now() - Date.parse(h.lastSeen) <= this.downAfterMs;
  }

  /** One round: plan every scheduled cluster, apply what changed, one step each. */
  async tick(): Promise<void> {
    // rebalances asked through any server first: only the leader writes placements, one step after another
    await this.carryOutRebalances();
    if (this.followed) return;
    const { state } = this.o;
    const clusters = (await state.scheduledClusters()).sort((a, b) => (a.tag < b.tag ? -1 : 1));
    // Nothing scheduled and no stale copy to clear: nothing to plan, and every host's row (10,000
    // of them, every second) is not read for nothing.
    if (clusters.length === 0 && (await state.staleCopies()).length === 0) return;
    const hosts = await state.hosts();
    const down = await this.admitDown(hosts);
    const { planHosts, asks } = await this.inputs(hosts, clusters, down);
    // unheard hosts the budget keeps: they keep what they hold and take nothing new
    const quiet = new Set(hosts.filter((h) => !this.isUp(h)).map((h) => h.name));
    for (const p of planHosts) if (p.up && quiet.has(p.name)) p.unheard = true;
    const { plans } = this.o.planner.plan(planHosts, asks);
    const byTag = new Map(plans.map((p) => [p.tag, p]));
    const draining = new Set(hosts.filter((h) => h.draining).map((h) => h.name));
    const unheard = quiet;
    for (const c of clusters) {
      // a lost lead ends the tick (a write past this check goes under the old fence, which the database refuses)
      if (this.followed) return;
      const plan = byTag.get(c.tag);
      let placed = c.hosts;
      let replicas = c.replicas;
      if (plan) {
        const next = placementOf(plan);
        if (!samePlacement(c, next)) {
          await this.o.write.setPlacements(c.tag, next.hosts, eventsOf(c, plan, down, draining), next.replicas);
          placed = next.hosts;
          replicas = next.replicas;
        }
      }
      await this.reconcile(c.tag, placed, unheard, replicas);
    }
    await this.clearStale(hosts);
  }

  /** `GET /clusters/:tag/plan`: where each instance of `tag` would go now; nothing changes. */
  async preview(tag: string): Promise<PlanResult | undefined> {
    const hosts = await this.o.state.hosts();
    const clusters = await this.o.state.scheduledClusters();
    if (!clusters.some((c) => c.tag === tag)) return undefined;
    const { planHosts, asks } = await this.inputs(hosts, clusters, this.downNow(hosts));
    return this.o.planner.preview(planHosts, asks, tag);
  }

  /**
   * `noops rebalance --dry-run` (any server): the moves a rebalance of at most `maxMoves` would make
   * now, among the clusters `mayMove` allows (a team's own; every cluster counts in the hosts'
   * allocations). Nothing changes: a real rebalance is a request the leader's tick carries out.
   */
  async previewRebalance(maxMoves: number, mayMove: (tag: string) => boolean = () => true): Promise<RebalanceView> {
    return (await this.planMoves(maxMoves, mayMove)).view;
  }

  private async planMoves(maxMoves: number, mayMove: (tag: string) => boolean): Promise<{ view: RebalanceView; clusters: LoopCluster[] }> {
    const hosts = await this.o.state.hosts();
    const clusters = await this.o.state.scheduledClusters();
    const { planHosts, asks } = await this.inputs(hosts, clusters, this.downNow(hosts));
    const view = this.o.planner.rebalance(
      planHosts,
      asks.filter((a) => mayMove(a.tag)),
      maxMoves,
    );
    return { view, clusters };
  }

  /**
   * The rebalance requests waiting (`POST /rebalance` on any server): each planned on the state as
   * it is now and written with its request's end, in one fenced transaction, so it is made once and
   * never races this loop's own writes. The loop then carries each move out like any change: the
   * new copy started, healthy, then the old one drained and stopped.
   */
  private async carryOutRebalances(): Promise<void> {
    const requests = await this.o.state.rebalanceRequests();
    for (const r of requests) {
      if (this.followed) return;
      const movable = r.movable === null ? null : new Set(r.movable);
      const { view, clusters } = await this.planMoves(r.maxMoves, (tag) => movable === null || movable.has(tag));
      if (this.followed) return; // lost while planning: the next leader carries it out
      await this.o.write.rebalanced(r, rebalanceChanges(clusters, view.moves), { ...view, dryRun: false });
    }
  }

  /** The planner's inputs: each host's allocation, ports and jobs from the clusters placed on it. */
  private async inputs(hosts: LoopHost[], clusters: LoopCluster[], down: Set<string>): Promise<{ planHosts: PlanHost[]; asks: PlanAsk[] }> {
    const asks: PlanAsk[] = [];
    for (const c of clusters) {
      const version = await this.o.state.version(c.tag);
      asks.push({
        tag: c.tag,
        job: jobOf(c.tag),
        spec: c.spec,
        ports: await this.o.state.fixedPorts(c.tag, version),
        current: clusterInstances(c),
      });
    }
    const on = new Map<string, PlanHost>();
    const planHosts = hosts.map((h) => {
      const p: PlanHost = {
        name: h.name,
        labels: h.labels,
        capacity: h.capacity ?? { cpu: 0, memory: 0, disk: 0 },
        allocated: { cpu: 0, memory: 0, disk: 0 },
        up: !down.has(h.name),
        draining: h.draining,
        scope: h.scope,
        ports: [],
        jobs: [],
      };
      on.set(h.name, p);
      return p;
    });
    for (const a of asks) {
      for (const name of a.current) {
        const p = on.get(name);
        if (!p) continue;
        p.allocated.cpu += a.spec.cpu;
        p.allocated.memory += a.spec.memory;
        p.ports.push(...a.ports);
        // one entry per instance (a cluster's replicas each), as `Fleet.take` keeps them: the
        // distinct-hosts filter counts them, both ways (a cluster that asks it, and one of its job beside it)
        p.jobs.push(a.job);
        if (a.spec.distinctHosts) (p.distinctJobs ??= []).push(a.job);
      }
    }
    return { planHosts, asks };
  }

  /**
   * Unheard hosts that may leave now: those already leaving, and new ones within the per-minute
   * budget. The window is in the store (`ScheduleState.vacating`), in the database's clock, so a
   * server that takes the loop over counts what its predecessor let leave, whatever the two
   * servers' clocks say; hosts heard again, or gone, are forgotten.
   */
  private async admitDown(hosts: LoopHost[]): Promise<Set<string>> {
    // the window's times are written by one leader and read by the next: one clock, the database's
    const now = this.o.now ? this.o.now() : await this.o.state.now();
    const vacating = await this.o.state.vacating();
    const byName = new Map(hosts.map((h) => [h.name, h]));
    const remove: string[] = [];
    for (const name of vacating.keys()) {
      const h = byName.get(name);
      if (h === undefined || this.isUp(h)) remove.push(name);
    }
    for (const name of remove) vacating.delete(name);
    const budget = Math.max(1, Math.floor(this.maxMigrateShare * hosts.length));
    let used = [...vacating.values()].filter((at) => now - at < MIGRATE_WINDOW_MS).length;
    const waiting = hosts
      .filter((h) => !this.isUp(h) && !vacating.has(h.name))
      .sort((a, b) => Date.parse(a.lastSeen ?? '1970-01-01T00:00:00Z') - Date.parse(b.lastSeen ?? '1970-01-01T00:00:00Z'));
    const add: { host: string; at: number }[] = [];
    for (const h of waiting) {
      if (used >= budget) break;
      vacating.set(h.name, now);
      add.push({ host: h.name, at: now });
      used++;
    }
    // a lost lead writes nothing more (the tick ends at its next check)
    if ((add.length > 0 || remove.length > 0) && !this.followed) await this.o.write.setVacating(add, remove);
    return new Set(vacating.keys());
  }

  /** For previews: every unheard host counts as down (no budget is spent). */
  private downNow(hosts: LoopHost[]): Set<string> {
    return new Set(hosts.filter((h) => !this.isUp(h)).map((h) => h.name));
  }

  /**
   * One step towards the placements: nothing while a deployment runs on the cluster; a dead
   * host's entry dropped; then new hosts deployed (the cluster's version); then live hosts that
   * left undeployed, once the new ones took.
   */
  private async reconcile(tag: string, placed: string[], unheard: Set<string>, replicas?: Record<string, number>): Promise<void> {
    const { state, write } = this.o;
    const desired = await state.desired(tag);
    const has = new Set(desired.map((d) => d.host));
    const want = new Set(placed);
    const extra = desired.map((d) => d.host).filter((h) => !want.has(h));
    const missing = placed.filter((h) => !has.has(h));
    // a new count on a host that runs the cluster: its entry changes in place (the agent starts or stops replicas)
    const recount = replicaChanges(desired, placed, replicas);
    await this.drainer.sweep(tag, desired); // marks of lower counts whose replicas stopped
    if (extra.length === 0 && missing.length === 0 && recount.length === 0) return;
    if (await state.deploying(tag)) return;
    // a lower count is written once the replicas it removes are drained (a later tick)
    const writable = recount.length > 0 ? await this.drainer.ready(tag, desired, recount) : [];
    if (writable.length > 0) await write.setReplicas(tag, writable);
    for (const h of extra.filter((x) => unheard.has(x))) await write.dropDead(tag, h);
    const version = await state.version(tag);
    if (missing.length > 0 && version !== null) {
      const last = this.tried.get(tag);
      if (last !== undefined && this.now() - last < RETRY_MS) return;
      this.tried.set(tag, this.now());
      await write.deployTo(tag, version, missing);
      return;
    }
    this.tried.delete(tag);
    const live = extra.filter((x) => !unheard.has(x));
    if (live.length > 0) await write.undeployFrom(tag, live);
  }

  /** Stale copies on hosts that came back and report them gone: forgotten, with their event. */
  private async clearStale(hosts: LoopHost[]): Promise<void> {
    const stale = await this.o.state.staleCopies();
    if (stale.length === 0) return;
    const byName = new Map(hosts.map((h) => [h.name, h]));
    for (const s of stale) {
      const h = byName.get(s.host);
      if (h && !this.isUp(h)) continue;
      const tags = this.o.state.reportedTags(s.host);
      if (h && (tags === undefined || tags.includes(s.tag))) continue;
      const placedAgain = (await this.o.state.desired(s.tag)).some((d) => d.host === s.host);
      await this.o.write.clearStale(s.host, s.tag, {
        tag: s.tag,
        kind: 'stale',
        from: s.host,
        to: null,
        reason: h
          ? placedAgain
            ? `${s.host} came back and was placed again: its stale copy is no longer stale`
            : `${s.host} came back: the copy it no longer owns was stopped`
          : `${s.host} was removed`,
      });
    }
  }

  private log(line: string): void {
    (this.o.log ?? ((l: string) => process.emitWarning(l)))(line);
  }
}

/** The history of one plan: leavers paired with newcomers (a move), the rest placed or removed. */
export function eventsOf(c: LoopCluster, plan: PlanResult, down: Set<string>, draining: Set<string>): NewPlacementEvent[] {
  const kindOfLeave = (h: string): PlacementKind => (down.has(h) ? 'migrate' : draining.has(h) ? 'drain' : 'scale');
  const leaves = [...plan.leave];
  const events: NewPlacementEvent[] = [];
  const grew = c.hosts.length === 0 ? 'place' : 'scale';
  for (const a of plan.add) {
    const l = leaves.shift();
    if (l) events.push({ tag: c.tag, kind: kindOfLeave(l.host), from: l.host, to: a.host, reason: `${l.reason}; ${a.reason}` });
    else events.push({ tag: c.tag, kind: grew, from: null, to: a.host, reason: a.reason });
  }
  for (const l of leaves) events.push({ tag: c.tag, kind: kindOfLeave(l.host), from: l.host, to: null, reason: l.reason });
  return events;
}
