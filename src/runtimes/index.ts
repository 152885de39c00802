/**
 * Runtime dependencies, provisioned and isolated: a runtime (node, jdk, maven, go, ...) is a
 * tarball with `bin/` that a host installs once into `runtimes/<name>/<version>/` (verified,
 * read-only, shared), and that a process sees only when its own manifest names it.
 * See docs/runtimes.md.
 */
export type { HostRuntimeReport, RuntimeExports, RuntimeRef } from './types.js';
export {
  DEFAULT_PATH,
  DIR_PLACEHOLDER,
  WELL_KNOWN_HOMES,
  checkExports,
  defaultExports,
  runtimeEnv,
  type PlacedRuntime,
} from './exports.js';
export { ANY_PLATFORM, ARCH_LABEL, OS_LABEL, checkPlatform, elfPlatform, hostPlatform, platformProblem } from './platform.js';
export { ANY_VERSION, compareVersions, resolveVersion } from './resolve.js';
// reading a runtime's tarball (tar) is the named entry `runtimes/inspect.ts`; its type is here.
export type { RuntimeTarball } from './inspect.js';
export {
  RUNTIME_MARKER,
  ensureRuntime,
  installRuntime,
  listInstalledRuntimes,
  readRuntimeMarker,
  removeRuntime,
  removeTree,
  runtimeDir,
  type RuntimeMarker,
} from './install.js';
export { RUNTIME_KEEP_MS, STALE_RUNTIME_TEMP_MS, canInstallRuntimes, pruneRuntimes, runtimeKey, runtimesToRemove } from './prune.js';
