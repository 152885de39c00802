/**
 * The cheap reads of a deployment, for clients that follow one (issue 19): its summary (where it
 * is, counts per state, the hosts in flight and the failures, without every host: a few kB at any
 * size, where the whole deployment is about 3 MB at 10,000 hosts), and its hosts a page at a time.
 * docs/rollouts.md#following-a-large-deployment.
 */
import type { HostProgress, HostRolloutState, RolloutLogLine, RolloutProgress } from './rollout-types.js';
import type { DeploymentView } from './types.js';

/** Hosts per state; a state no host is in is absent. */
export type StateCounts = Partial<Record<HostRolloutState, number>>;

/** `GET /deployments/:id/hosts`: one host's part in a deployment. */
export interface DeploymentHostView extends HostProgress {
  host: string;
  /** the deployment's `hostResults` entry: 'queued', 'succeeded', 'failed: REASON', ... */
  result: string;
  /** the version it ran before the deployment (null: none) */
  previous: string | null;
}

/** One batch of the plan in a summary: its size and its hosts per state. */
export interface BatchSummary {
  size: number;
  states: StateCounts;
}

/** Where a deployment is, without its hosts: the progress' own fields, the batches as counts. */
export type SummaryProgress = Omit<RolloutProgress, 'batches' | 'hosts'> & {
  batches: BatchSummary[];
};

/**
 * `GET /deployments/:id/summary` (and the `summary` events of `GET /deployments/:id/events?view=summary`):
 * a deployment without its hosts' lists. `index` changes exactly when the summary does (a hash
 * of it, the same on every server): pass it back as `?index=N&wait=30s` to wait for the next change.
 */
export interface DeploymentSummary
  extends Pick<
    DeploymentView,
    'id' | 'tag' | 'version' | 'kind' | 'initiator' | 'startedAt' | 'endedAt' | 'hostCount' | 'status' | 'message' | 'conf'
  > {
  /** every host per state */
  states: StateCounts;
  /** the plan and where it is, batches as counts; null for deployments recorded before batched rollouts */
  progress: SummaryProgress | null;
  /** the hosts in flight (deploying, healthy or reverting), in plan order, at most SUMMARY_HOSTS_MAX (`GET .../hosts` pages them all) */
  inFlight: DeploymentHostView[];
  /** hosts that failed (`failed`, or reverted after failing), in plan order, at most SUMMARY_HOSTS_MAX */
  failures: DeploymentHostView[];
  /** how many hosts failed in all */
  failureCount: number;
  index: number;
}

/** The most hosts a summary lists in `inFlight` and in `failures`: enough to read, a few kB. */
export const SUMMARY_HOSTS_MAX = 50;

/** Longest `wait` of a blocking summary; a longer one is cut to this. */
export const SUMMARY_MAX_WAIT_MS = 5 * 60_000;
/** `wait` when `index` is given without one. */
export const SUMMARY_DEFAULT_WAIT_MS = 30_000;

/** What `GET /deployments/:id/events?view=summary` streams: a summary first and after every change, and log lines. */
export type DeploymentSummaryEvent = { type: 'summary'; summary: DeploymentSummary } | { type: 'log'; line: RolloutLogLine };

/** The filters and page of `GET /deployments/:id/hosts`. */
export interface DeploymentHostsQuery {
  /** only hosts in these states */
  states?: HostRolloutState[];
  /** only the hosts of this batch (0-based, as `progress.batch`) */
  batch?: number;
  /** the hosts after this one, in plan order (the `x-noops-next` header of the page before) */
  after?: string;
  /** at most this many (default and cap: the lists' PAGE_MAX, 1,000) */
  limit?: number;
}

/** Every state a host can be in, in the order a deployment goes through them. */
export const HOST_STATES = [
  'queued',
  'deploying',
  'healthy',
  'succeeded',
  'failed',
  'reverting',
  'reverted',
  'stopped',
  'skipped',
] as const satisfies readonly HostRolloutState[];

// every state is listed: a new one added to HostRolloutState fails to compile here until it is
const _allStates: Record<HostRolloutState, true> = Object.fromEntries(HOST_STATES.map((s) => [s, true])) as Record<
  (typeof HOST_STATES)[number],
  true
>;
