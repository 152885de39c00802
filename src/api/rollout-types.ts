/**
 * The wire shapes of a rollout. Its policy, plan and progress are the rollout's own types
 * (`rollout/types.ts`, types only), sent as they are; the events the API streams while it runs
 * and the policy overrides a deploy may send are the API's.
 */
import type { RolloutLogLine, RolloutPolicy } from '../rollout/index.js';

export type {
  DeploymentStatusView,
  DeployTestCommand,
  DeployTestRun,
  HostProgress,
  HostRolloutState,
  RolloutLogLine,
  RolloutPhase,
  RolloutPolicy,
  RolloutProgress,
} from '../rollout/index.js';

/** What `GET /deployments/:id/events` streams (server-sent events; the event name is `type`). */
export type DeploymentEvent =
  /** the whole deployment, sent first and after every change */
  | { type: 'deployment'; deployment: import('./types.js').DeploymentView }
  /** one line of its log */
  | { type: 'log'; line: RolloutLogLine };

/** The policy keys a deploy may override (cluster.conf's keys; durations as seconds or "30s", "5m"). */
export type PolicyOverrides = Partial<Record<keyof RolloutPolicy, unknown>>;
