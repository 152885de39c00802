/**
 * The scheduler's own shapes: a host as the scheduler sees it, what one cluster asks, and the plan
 * that answers it. Pure data: the loop (server/) reads them from the store, this module decides.
 */
import type { ClusterPlanView, HostResources, ScheduleSpec } from '../api/index.js';

/** A host as the scheduler sees it. A `Fleet` holds these and updates them in place. */
export interface SchedHost {
  name: string;
  labels: Record<string, string>;
  /** from the agent's reports (zero if never reported: nothing fits) */
  capacity: HostResources;
  /** the sum of what the scheduled clusters placed here ask (hand-placed clusters ask nothing) */
  allocated: HostResources;
  /** heard within `down_after` */
  up: boolean;
  /**
   * up is true but the host is not heard: the migration budget keeps it for now, so it keeps the
   * instances it holds and takes no new one (absent: heard)
   */
  unheard?: boolean;
  /** `noops host drain`: nothing new lands here, what runs leaves */
  draining: boolean;
  /**
   * the node of the tree the host is assigned to (`noops host assign`), null: unassigned. The
   * server always sets it: a cluster is placed only on hosts assigned to a node that holds it, as a
   * team may put only its own hosts in a cluster by hand. Absent (benchmarks, the core's tests): not checked.
   */
  scope?: string | null;
  /** fixed ports held by the instances placed here, one entry per instance that holds it */
  ports: number[];
  /** the job tag of every cluster with an instance here, one entry per cluster (a job may repeat) */
  jobs: string[];
  /**
   * the job tag of every cluster here that asks `distinctHosts`, one entry per cluster: another
   * cluster of that job keeps off the host too, so neither moves the other later (absent: none)
   */
  distinctJobs?: string[];
}

/** What one cluster asks of the scheduler. */
export interface PlaceAsk {
  /** the cluster's tag */
  tag: string;
  /** its job's tag (`distinctHosts` keeps clusters of one job apart) */
  job: string;
  spec: ScheduleSpec;
  /** fixed ports its release's processes take (`port: 8080`); [] for auto or none */
  ports: number[];
  /** the hosts it runs on now (its `ClusterRow.hosts`); their `allocated` already holds its ask */
  current: string[];
}

/** One host and why it gets or loses an instance. */
export interface HostReason {
  host: string;
  reason: string;
}

/**
 * The answer for one cluster: the wire view (where each instance goes, which hosts were left out
 * and why, what could not be placed) and the changes from today, `leave` to be done before `add`.
 */
export interface ClusterPlan extends ClusterPlanView {
  /** current hosts that stay (no churn: every current host that still passes the filters) */
  keep: string[];
  /** hosts that get a new instance */
  add: HostReason[];
  /** current hosts whose instance stops: `host down`, `draining`, `no longer fits: ...`, `scaled down`, `host gone` */
  leave: HostReason[];
  /** instances that would fit but wait for a later plan (`maxNew` reached) */
  deferred: number;
}

/** Options of `planCluster`. */
export interface PlanOptions {
  /** at most this many new instances in this plan (migration's rate limit); the rest are `deferred` */
  maxNew?: number;
  /**
   * check every host, so `filtered` names every host left out and why (`noops cluster plan`);
   * otherwise only the hosts the search looked at are named (the loop's ticks stay cheap)
   */
  explain?: boolean;
}
