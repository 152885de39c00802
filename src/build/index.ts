/** The standard build framework: a git repository at a commit becomes a release package. */
export { BUILD_ENV_PASSTHROUGH, BUILD_LOG_LIMIT, BUILD_LOG_TAIL, BUILD_TIMEOUT_MS, runBuild, type BuildOptions, type BuildResult } from './build.js';
export { NPM_BUILD, NPM_CI, NPM_INSTALL, NPM_START, STACK_PARTS, detectStack, type BuildPlan, type DetectInput } from './detect.js';
export { resolveRuntimes, type BuildRuntimes, type ResolvedRuntimes } from './runtimes.js';
export { excludeMatcher } from './exclude.js';
export { run, type RunOptions, type RunResult } from './exec.js';
export { credentialEnv, parseCredential, redactRepo, splitRepoCredential, type GitCredential } from './git.js';
export { SANDBOX_LIMITS, planStep, type SandboxKind, type SandboxPolicy, type StepPlan } from './sandbox.js';
export { BUILD_UID_BASE, BUILD_UID_COUNT, Sandbox, SandboxSession, type SandboxMode, type SandboxOptions } from './sandbox-run.js';
