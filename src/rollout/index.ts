/** Deployments: plans, judging from agent reports, rollback. */
export { RolloutController, jobOf, DEFAULT_DEPLOY_TIMEOUT_S } from './controller.js';
export type { RolloutDeps, StartDeploy } from './controller.js';
export { evaluateDeployment, evaluateHost, observe, previousVersion } from './evaluate.js';
export type { HostObservation, HostResult, DeploymentVerdict } from './evaluate.js';
export { checkEnv, envProblems } from './check-env.js';
export type { EnvHost, EnvProblems } from './check-env.js';
