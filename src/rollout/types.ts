/**
 * The rollout's own types: its policy, its plan and where it is (the progress stored with each
 * deployment). Types only, with no import: `api/` re-exports them as what the API sends (the CLI
 * and the web console read them), and the browser build compiles this file as it is.
 */

/** How a deployment ends, and `running` while it runs. */
export type DeploymentStatusView = 'running' | 'succeeded' | 'failed' | 'rolled_back' | 'aborted';

/**
 * A deploy policy with every key resolved (defaults filled in). The keys are cluster.conf's
 * (`rollout/deploy-policy.ts` is their schema and documentation); durations are in seconds.
 */
export interface RolloutPolicy {
  /** batch sizes in order, the last one repeating: host counts or percentages of the cluster, e.g. [1, '10%', '50%'] */
  batch: (number | string)[];
  /** seconds to wait between two batches */
  pause: number;
  /** seconds every process of a host must pass its health check before the host counts */
  healthy_for: number;
  /** seconds a batch may take (every host healthy for long enough) before its late hosts fail */
  timeout: number;
  /** hosts that may fail without failing the deploy: a count, or a percentage of the cluster */
  max_failures: number | string;
  /** what a failure does: `rollback` every host that was changed, or `stop` where it is */
  on_failure: 'stop' | 'rollback';
  /** the first batch is a canary: the deploy waits after it for `noops deploy promote` */
  canary: boolean;
  /** seconds after which a canary goes on by itself; null: it waits for a person */
  canary_wait: number | null;
  /** seconds the deploy tests may run, all commands together */
  test_timeout: number;
  /**
   * seconds a host's connections may take to end when it is drained from its load-balancer
   * pools, when the release's noops.yaml `drain_timeout` does not say; absent: 30 s (docs/balancers.md)
   */
  drain_timeout?: number;
  /**
   * how the hosts run the release when its noops.yaml `driver` does not say (the cluster's policy
   * `driver`); absent: `process`. Resolved into each desired entry when it is written.
   */
  driver?: 'process' | 'container';
}

/**
 * Where a deployment is:
 * - `deploying`: the current batch's hosts are switching and being health-checked
 * - `testing`: the release's deploy tests run against the fresh instances
 * - `waiting`: the pause between two batches (or held by `noops deploy pause`)
 * - `canary`: after the canary batch, waiting for `promote` (or `canary_wait`)
 * - `reverting`: a failure or an abort sends the changed hosts back to their previous release
 * - `done`: ended; the deployment's status says how
 */
export type RolloutPhase = 'deploying' | 'testing' | 'waiting' | 'canary' | 'reverting' | 'done';

/**
 * One host's part in a deployment:
 * - `queued`: its batch has not started
 * - `deploying`: told to run the release; not yet up and healthy
 * - `healthy`: up and healthy, not yet for `healthy_for`
 * - `succeeded`: healthy for `healthy_for`
 * - `failed`: could not run the release healthily (see `reason`)
 * - `reverting`, `reverted`: being sent, or sent, back to the release it ran before
 * - `stopped`: a deploy that stopped on failure left it as it was
 * - `skipped`: the deployment ended before its batch started; it was never touched
 */
export type HostRolloutState =
  | 'queued'
  | 'deploying'
  | 'healthy'
  | 'succeeded'
  | 'failed'
  | 'reverting'
  | 'reverted'
  | 'stopped'
  | 'skipped';

export interface HostProgress {
  state: HostRolloutState;
  /** index of the host's batch */
  batch: number;
  /** why it is not healthy yet, or why it failed */
  reason: string | null;
  /** when its batch told it to switch */
  startedAt: string | null;
  /** since when every process passes its health check (as its agent reported) */
  healthySince: string | null;
  /** when it reached its final state for this deployment (succeeded, failed, reverted) */
  endedAt: string | null;
  /** whether its agent downloaded the package (false: it was on disk); null until known */
  downloaded: boolean | null;
}

/** One command of the release's deploy tests, as it ran. */
export interface DeployTestCommand {
  command: string;
  /** exit code; null when killed (time limit) or not started */
  code: number | null;
  /** the end of its output (stdout and stderr together) */
  output: string;
}

/** One run of the deploy tests (after the first batch, after the last). */
export interface DeployTestRun {
  /** the batch after which they ran */
  batch: number;
  status: 'running' | 'passed' | 'failed';
  /** the instances they were given in NOOPS_INSTANCES */
  instances: string[];
  startedAt: string;
  endedAt: string | null;
  commands: DeployTestCommand[];
}

/** A line of a deployment's log: what happened, when. */
export interface RolloutLogLine {
  at: string;
  message: string;
}

/**
 * A deployment's plan and where it is. A type, not an interface: a deployment whose progress is
 * typed is then also a store row, whose JSON column takes any object (`Record<string, unknown>`).
 * Read back from the store through `readProgress` (progress-schema.ts), never cast.
 */
export type RolloutProgress = {
  policy: RolloutPolicy;
  /** the plan: host names per batch, in order */
  batches: string[][];
  /** index of the current batch (-1 before the first starts) */
  batch: number;
  phase: RolloutPhase;
  /** when the current phase began */
  phaseSince: string;
  /** held by `noops deploy pause`: no further batch starts until `resume` */
  paused: boolean;
  /** the canary was promoted */
  promoted: boolean;
  /** set by `abort` until the next step acts on it */
  abort: { by: string; at: string } | null;
  /** while reverting: how the deployment will end */
  outcome: { status: DeploymentStatusView; message: string } | null;
  hosts: Record<string, HostProgress>;
  tests: DeployTestRun[];
  /** the release names deploy tests (they run after the first and the last batch) */
  hasTests: boolean;
  /** the latest lines of the deployment's log (older ones are dropped) */
  log: RolloutLogLine[];
};
