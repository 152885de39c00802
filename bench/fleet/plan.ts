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
  // 10,000 x 100 MB is a terabyte through one server: measured up to 1,000 hosts (100 GB), and
  // the rate found there tells what 10,000 would take.
  rollouts: [{ mib: 10, maxHosts: 10_000 }, { mib: 100, maxHosts: 1000 }],
  batch: BATCH,
  realAgents: 20,
  realRollouts: [10, 100],
};

export const QUICK: FleetPlan = {
  sizes: [100, 1000],
  heartbeatS: 10,
  propagationRuns: 2,
  rollouts: [{ mib: 10, maxHosts: 100 }],
  batch: BATCH,
  realAgents: 5,
  realRollouts: [10],
};

/** Every payload size a plan needs built. */
export function payloadSizes(plan: FleetPlan): number[] {
  return [...new Set([...plan.rollouts.map((r) => r.mib), ...plan.realRollouts])].sort((a, b) => a - b);
}
