/** The standard build framework: a git repository at a commit becomes a release package. */
// the build itself (tar) and stack detection (yaml) are the named entries `build/build.ts` and `build/detect.ts`
export type { BuildOptions, BuildResult } from './build.js';
export type { BuildPlan, DetectInput } from './detect.js';
export { resolveRuntimes, type BuildRuntimes, type ResolvedRuntimes } from './runtimes.js';
export { excludeMatcher } from './exclude.js';
export { run, type RunOptions, type RunResult } from './exec.js';
export { credentialEnv, parseCredential, redactRepo, splitRepoCredential, type GitCredential } from './git.js';
export { SANDBOX_LIMITS, planStep, type SandboxKind, type SandboxPolicy, type StepPlan } from './sandbox.js';
export {
  BUILD_UID_BASE,
  BUILD_UID_COUNT,
  SANDBOX_MODES,
  Sandbox,
  SandboxSession,
  type SandboxMode,
  type SandboxOptions,
} from './sandbox-run.js';
