/**
 * The scheduler loop's ports (issue 18; docs/scheduler.md), in Nomad's manner: the loop reads
 * everything through a `ScheduleState` and changes everything through a `ScheduleWriter`, and
 * asks the pure planner (src/schedule/) what to do in between. `schedule-store-ports.ts` builds
 * both over the server's store, rollout and hub; the tests build them in memory.
 *
 *   ScheduleState ──► hosts, scheduled clusters, desired entries, reports ──► planner ──► plan
 *   plan ──► ScheduleWriter: cluster hosts (+ history), deploy to new hosts, undeploy leavers,
 *            drop a dead host's entry (a stale copy, stopped when it comes back), the migration
 *            budget's window, rebalance requests carried out
 */
import type { NewPlacementEvent } from '../store/index.js';
import type { RebalanceView, ScheduleSpec } from '../api/index.js';
import type { ClusterPlan, PlaceAsk, SchedHost } from '../schedule/index.js';

/** A host as the loop reads it. */
export interface LoopHost {
  name: string;
  labels: Record<string, string>;
  /** ISO time of its last heartbeat (any server's), null: never */
  lastSeen: string | null;
  draining: boolean;
  capacity: { cpu: number; memory: number; disk: number } | null;
  /** the node it is assigned to (`noops host assign`), null: unassigned (the scheduler never uses it) */
  scope: string | null;
}

/** A cluster that names a count. */
export interface LoopCluster {
  tag: string;
  /** its placements now */
  hosts: string[];
  spec: ScheduleSpec;
  /** its hosts that run more than one instance, with their count (absent: one on each); schedule-replicas.ts */
  replicas?: Record<string, number>;
}

/** What the loop reads. */
export interface ScheduleState {
  hosts(): Promise<LoopHost[]>;
  /** every cluster with a schedule */
  scheduledClusters(): Promise<LoopCluster[]>;
  /** hosts with a desired entry of `tag`, and its version there (and its replicas, absent: one) */
  desired(tag: string): Promise<{ host: string; version: string; replicas?: number }[]>;
  /** whether a deployment (deploy, rollback, undeploy) runs on `tag` now */
  deploying(tag: string): Promise<boolean>;
  /** the version the cluster runs (its hosts' most common, else its last deploy's), null: never deployed */
  version(tag: string): Promise<string | null>;
  /** the tags `host`'s last report lists instances of (undefined: no report heard) */
  reportedTags(host: string): string[] | undefined;
  /** fixed ports the release of `tag` at `version` takes (port: 8080), [] for auto or none */
  fixedPorts(tag: string, version: string | null): Promise<number[]>;
  /** copies left on hosts that were unheard when their cluster moved */
  staleCopies(): Promise<{ host: string; tag: string }[]>;
  /** the unheard hosts the migration budget let leave, and when (ms since the epoch): kept by the store, so a new leader counts them */
  vacating(): Promise<Map<string, number>>;
  /** `noops rebalance` requests not yet carried out, oldest first */
  rebalanceRequests(): Promise<RebalanceRequest[]>;
  /**
   * now by the database's clock (ms since the epoch): the migration budget's window, which
   * successive leaders share, is counted in it, so servers whose clocks differ agree on it
   */
  now(): Promise<number>;
}

/** A rebalance asked through any server (`POST /rebalance`), for the leader's tick to carry out. */
export interface RebalanceRequest {
  id: number;
  /** who asked (the audit names them) */
  actor: string;
  maxMoves: number;
  /** the clusters the asker may move; null: every one */
  movable: string[] | null;
}

/** One cluster's new placements and the history events that explain them. */
export interface PlacementChange {
  tag: string;
  hosts: string[];
  /** its hosts that run more than one instance, with their count ({}: one on each) */
  replicas: Record<string, number>;
  events: NewPlacementEvent[];
}

/** What the loop changes. */
export interface ScheduleWriter {
  /**
   * the cluster's placements (its `hosts`, and its `replicas` per host when given; undefined:
   * left as they are), with the history events that explain them, together
   */
  setPlacements(tag: string, hosts: string[], events: NewPlacementEvent[], replicas?: Record<string, number>): Promise<void>;
  /** the replicas of hosts' desired entries of `tag` changed in place (no deployment: the release is the same) */
  setReplicas(tag: string, changes: { host: string; replicas: number }[]): Promise<void>;
  /** a deployment of `version` to only `hosts` of the cluster (health-gated, as any deploy) */
  deployTo(tag: string, version: string, hosts: string[]): Promise<void>;
  /** an undeploy of only `hosts` (drained first, as any stop) */
  undeployFrom(tag: string, hosts: string[]): Promise<void>;
  /** a dead host's entry removed at once, its copy remembered as stale (named in its `stops` when it returns) */
  dropDead(tag: string, host: string): Promise<void>;
  /** a stale copy seen stopped: forgotten, with its history event */
  clearStale(host: string, tag: string, event: NewPlacementEvent): Promise<void>;
  /** unheard hosts let leave now (`at`: ms since the epoch), and hosts heard again or gone forgotten */
  setVacating(add: { host: string; at: number }[], remove: string[]): Promise<void>;
  /**
   * A rebalance request carried out: its moves' placements and history, and the request marked
   * done with `view`, together (all or nothing); answers false, writing nothing, when the request
   * was no longer pending (its asker gave up and cancelled it)
   */
  rebalanced(request: RebalanceRequest, changes: PlacementChange[], view: RebalanceView): Promise<boolean>;
}

/**
 * Drain before a lower count (schedule-drains.ts): the replicas of `tag` on `host` numbered above
 * `above` (`web@3` is 3), in the load-balancer pools.
 */
export interface ReplicaDrains {
  /** whether a pool holds one of them now */
  held(tag: string, host: string, above: number): boolean;
  /** marks them to drain in every pool holding one; resolves when drained or at the drain deadline, throws when a pool did not follow */
  drain(tag: string, host: string, above: number): Promise<void>;
  /** clears that mark (nothing else of the host and tag) */
  clear(tag: string, host: string, above: number): Promise<void>;
}

/** A host as the planner sees it. */
export type PlanHost = SchedHost;
/** One cluster to place. */
export type PlanAsk = PlaceAsk;
/** A cluster's plan. */
export type PlanResult = ClusterPlan;

/** The pure planner (src/schedule/), behind a port so the loop's tests may count its calls. */
export interface Planner {
  plan(hosts: PlanHost[], asks: PlanAsk[]): { plans: PlanResult[] };
  preview(hosts: PlanHost[], asks: PlanAsk[], tag: string): PlanResult;
  rebalance(hosts: PlanHost[], asks: PlanAsk[], maxMoves: number): RebalanceView;
}
