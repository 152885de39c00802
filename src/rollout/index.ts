/** Deployments: plans, batches, health gates, deploy tests, rollback. See README.md. */
// the controller (it runs builds' sandboxes and unpacks packages) is the named entry `rollout/controller.ts`
export type { RolloutController, RolloutEvents } from './controller.js';
export { jobOf } from './deploy-start.js';
export type { StartDeploy, StartUndeploy } from './deploy-start.js';
export type { Deployment, RolloutDeps, RolloutPorts, RolloutReader, RolloutWriter, StoredDeployment } from './ports.js';
export type { RemoteCommand } from './following.js';
export { rolloutPorts } from './store-ports.js';
export { readProgress, withQueued } from './progress-schema.js';
export type * from './types.js';
export type { HostHookContext, RolloutHooks } from './hooks.js';
export { hostReadiness, observe, previousVersion, revertState, stoppedReadiness } from './evaluate.js';
export { stopPlan, describeStops } from './stop-plan.js';
export type { HostObservation, Readiness } from './evaluate.js';
export { planBatches } from './plan.js';
export {
  PolicySchema,
  parsePolicy,
  parseDuration,
  resolvePolicy,
  DEFAULT_BATCH,
  DEFAULT_TIMEOUT_S,
  type PolicyInput,
} from './deploy-policy.js';
export { step, changedHosts, initialProgress, hostResults, type RolloutAction, type StepInput, type StepResult } from './step.js';
export { applyCommand, describe } from './progress-updates.js';
// parsing cluster.conf (yaml) is the named entry `rollout/cluster-conf.ts`
export type { ClusterConfJob } from './cluster-conf.js';
export { checkEnv, envProblems } from './check-env.js';
export type { EnvHost, EnvProblems } from './check-env.js';
export { checkRootUsers, namesRoot, rootAllowed, rootUsers } from './check-user.js';
