/** Deployments: plans, batches, health gates, deploy tests, rollback. See README.md. */
export { RolloutController, jobOf, TICK_MS, DEFAULT_RESUME_GRACE_MS } from './controller.js';
export type { RolloutDeps, RolloutEvents, StartDeploy, StartUndeploy } from './controller.js';
export type { Deployment, RolloutPorts, RolloutReader, RolloutWriter, StoredDeployment } from './ports.js';
export { rolloutPorts } from './store-ports.js';
export { readProgress } from './progress-schema.js';
export type * from './types.js';
export type { HostHookContext, RolloutHooks } from './hooks.js';
export { hostReadiness, observe, previousVersion, revertState, stoppedReadiness } from './evaluate.js';
export { stopPlan, describeStops } from './stop-plan.js';
export type { HostObservation, Readiness } from './evaluate.js';
export { planBatches } from './plan.js';
export { PolicySchema, parsePolicy, parseDuration, resolvePolicy, DEFAULT_BATCH, DEFAULT_TIMEOUT_S, type PolicyInput } from './deploy-policy.js';
export { step, initialProgress, hostResults, type RolloutAction, type StepInput, type StepResult } from './step.js';
export { applyCommand, describe } from './progress-updates.js';
export { parseClusterConf, type ClusterConfJob } from './cluster-conf.js';
export { checkEnv, envProblems } from './check-env.js';
export type { EnvHost, EnvProblems } from './check-env.js';
export { checkRootUsers, namesRoot, rootAllowed, rootUsers } from './check-user.js';
