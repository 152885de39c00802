/**
 * What the fleet benchmark runs, full and quick. Pure: the runs read it, the tests check it.
 */

export interface RolloutStep {
  /** payload size in MiB (the package is that big: its bytes are random) */
  mib: number;
  /** the largest fleet this rollout runs on: N x size is what the server must send */
  maxHosts: number;
}

export interface FleetPlan {
  /** simulated fleet sizes */
  sizes: number[];
  /** seconds of steady heartbeats measured per size */
  heartbeatS: number;
  /** desired-state changes measured per size (tiny releases, alternating) */
  propagationRuns: number;
  /** rollouts with a payload, each followed by a rollback to a release on disk */
  rollouts: RolloutStep[];
  /** batch size asked of the server for rollouts */
  batch: string;
  /** lean heartbeat loads after the agents stop, as multiples of N agents' rate; all of
   * them at the largest N (to find the server's ceiling), the first at the others */
  leanLoads: number[];
  /** measure the desired-state fan-out to N lean long polls */
  fanOut: boolean;
  /** real agent processes for the reality check (0: skip) */
  realAgents: number;
  /** payload sizes (MiB) rolled out to the real agents */
  realRollouts: number[];
}

/** Ten percent batches, as the goals are stated. */
const BATCH = '10%';

export const FULL: FleetPlan = {
  sizes: [100, 1000, 10_000],
  // Six heartbeat periods of 5 s: every agent beats six times, the p99 rests on N x 6 samples.
  heartbeatS: 30,
  propagationRuns: 3,
  // Every host downloads from the one server: 10 MB to 1,000 hosts is 10 GB, 100 MB to 100 hosts
  // is 10 GB. Larger products (10 MB x 10,000 = 100 GB) would take many minutes on a 2-core
  // machine; the server's upload rate measured here tells what they would take.
  rollouts: [
    { mib: 10, maxHosts: 1000 },
    { mib: 100, maxHosts: 100 },
  ],
  batch: BATCH,
  leanLoads: [1, 2, 4],
  fanOut: true,
  realAgents: 20,
  realRollouts: [10, 100],
};

export const QUICK: FleetPlan = {
  sizes: [100, 1000],
  heartbeatS: 5,
  propagationRuns: 1,
  // the 10 MB rollout runs with the real agents and as many simulated ones
  rollouts: [],
  batch: BATCH,
  leanLoads: [1],
  fanOut: true,
  realAgents: 3,
  realRollouts: [10],
};

/** Every payload size a plan needs built. */
export function payloadSizes(plan: FleetPlan): number[] {
  return [...new Set([...plan.rollouts.map((r) => r.mib), ...plan.realRollouts])].sort((a, b) => a - b);
}
