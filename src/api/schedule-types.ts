/**
 * Wire types of the scheduler (issue 18, slides 3.1 and 3.4): hosts report what they offer, a
 * cluster names a count instead of hosts, and the scheduler (src/schedule/, a control loop under
 * its leader) picks the hosts, moves instances off failed hosts and packs the fleet.
 *
 *   noops agent --capacity cpu=4,memory=8G  ──report──► HostCapacity (what the host offers)
 *   noops hosts --json                       ──► HostView.capacity, HostView.allocated
 *   noops cluster set -t TAG --count 6 --cpu 0.5 --memory 256M [--constraint rack!=r3]
 *       [--distinct-hosts] [--spread rack | --binpack]  ──► ClusterView.schedule (a ScheduleSpec)
 *   noops cluster plan -t TAG [--json]       ──► GET /api/v1/clusters/:tag/plan (a ClusterPlanView)
 *   noops scale -t TAG --count N             ──► POST /api/v1/clusters/:tag/scale
 *   noops host drain HOST                    ──► POST /api/v1/hosts/:name/drain
 *   noops rebalance [--max-moves N] [--dry-run] ──► POST /api/v1/rebalance (a RebalanceView)
 *   the cluster's history                    ──► GET /api/v1/clusters/:tag/placements (PlacementEventView[])
 *
 * A cluster runs at most one instance per host (the agent runs one instance of a tag per host), so
 * a placement's `count` is 1 today; the field is there for replicas per host.
 */

/** What a host offers or holds: cores, bytes of memory and of disk. */
export interface HostResources {
  /** cores (fractions allowed: 0.5 is half a core) */
  cpu: number;
  /** bytes */
  memory: number;
  /** bytes of the agent's data folder's file system */
  disk: number;
}

/**
 * What an agent reports it offers: what it measured (cores, memory, disk of its data folder),
 * each overridden by `noops agent --capacity cpu=4,memory=8G` for a host shared with other work.
 */
export interface HostCapacity extends HostResources {
  /** free TCP ports in the agent's range for `port: auto` */
  freePorts: number;
}

/** One constraint on a host's labels: `rack!=r3`, `zone=a`. */
export interface ScheduleConstraint {
  label: string;
  op: '=' | '!=';
  value: string;
}

/**
 * How a cluster is placed when it names a count instead of hosts (`noops cluster set --count`,
 * or `count:` in a cluster.conf job section with `cpu`, `memory`, `constraint`, `distinct_hosts`,
 * `spread`, `binpack`). A cluster has either hosts or a count.
 */
export interface ScheduleSpec {
  count: number;
  /** cores each instance is given (0: asks nothing) */
  cpu: number;
  /** bytes each instance is given (0: asks nothing) */
  memory: number;
  constraints: ScheduleConstraint[];
  /** no host runs another cluster of the same job as well */
  distinctHosts: boolean;
  /** spread over the values of this host label; null: bin-pack (the default) */
  spread: string | null;
}

/** One host chosen for a cluster, and how many of its instances it runs. */
export interface PlacementView {
  host: string;
  count: number;
}

/** One host left out, and why (`resources: memory 1.5G asked, 0.2G free`, `constraint rack!=r3`, ...). */
export interface FilteredHostView {
  host: string;
  reason: string;
}

/** GET /clusters/:tag/plan: where each instance would go, before anything changes. */
export interface ClusterPlanView {
  tag: string;
  placements: PlacementView[];
  filtered: FilteredHostView[];
  /** instances no host could take (the cluster asks for more than the fleet holds) */
  unplaced: number;
}

/** Why an instance was placed or moved. */
export const PLACEMENT_KINDS = ['place', 'scale', 'migrate', 'drain', 'rebalance', 'stale'] as const;
export type PlacementKind = (typeof PLACEMENT_KINDS)[number];

/** One placement, migration or move, as the cluster's history shows it. */
export interface PlacementEventView {
  id: number;
  tag: string;
  kind: PlacementKind;
  /** the host the instance left (null: a new instance) */
  from: string | null;
  /** the host the instance went to (null: an instance removed) */
  to: string | null;
  reason: string;
  at: string;
}

/** One move `noops rebalance` makes (or would make with `--dry-run`). */
export interface RebalanceMoveView {
  tag: string;
  from: string;
  to: string;
  reason: string;
}

/** POST /rebalance */
export interface RebalanceView {
  dryRun: boolean;
  moves: RebalanceMoveView[];
  /** hosts with nothing scheduled left on them after the moves */
  freedHosts: string[];
}
