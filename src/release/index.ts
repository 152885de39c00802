/**
 * The release-package spec, shared by the build, the server and the agent: noops.yaml, the
 * Procfile, and manifest.json. See docs/package-spec.md.
 */
export type {
  CronSpecManifest,
  ManifestCondition,
  ManifestConditionBase,
  ManifestFlapping,
  ManifestLogs,
  ProcessSpec,
  ReleaseManifest,
} from './types.js';
export {
  DEFAULT_CHECK_INTERVAL,
  DEFAULT_CHECK_OF,
  DEFAULT_CHECK_TIMEOUT,
  DEFAULT_CHECK_TIMES,
  DEFAULT_CRON_TIMEOUT,
  DEFAULT_FLAPPING,
  DEFAULT_LOGS,
  DEFAULT_RESTART,
  parseSize,
} from './supervision.js';
export { toCrons, toFlapping, toLogs } from './supervision-yaml.js';
export { DRIVERS, toResources, toVolumes } from './containers-yaml.js';
// noops.yaml parsing (yaml) is the named entry `release/noops-yaml.ts`; its types are here.
export type { NoopsYaml, NoopsYamlProcess } from './noops-yaml.js';
export { checkCronSchedule, yamlCronShape, yamlCrons } from './supervision-yaml.js';
export type { HealthCheck } from './types.js';
export type { ManifestResources, ManifestVolume } from './types.js';
export { DEFAULT_HEALTH_INTERVAL_S, DEFAULT_HEALTH_TIMEOUT_S, healthCheckOf } from './health.js';
export { parseProcfile, type ProcfileEntry } from './procfile.js';
export {
  DEFAULT_PORT,
  DEFAULT_START_GRACE,
  DEFAULT_STOP_SIGNAL,
  DEFAULT_STOP_TIMEOUT,
  DEFAULT_WEB_PORT,
  MANIFEST_FILE,
  PACKAGE_SCHEMA,
  VERSION_LENGTH,
  WEB_PROCESS,
  processDefaults,
  validateManifest,
  type ProcessInput,
} from './manifest.js';
export {
  ENV_NAME_RE,
  PROCESS_NAME_RE,
  RUNTIME_NAME_RE,
  RUNTIME_VERSION_RE,
  SECRET_NAME_RE,
  STOP_SIGNALS,
  envMap,
  processName,
  secretName,
  splitEnv,
} from './fields.js';
export { fenceNodePackageScope } from './node-scope.js';
// reading a package (tar) is the named entry `release/package.ts`; its report type is here.
export type { PackageReport } from './package.js';
export {
  SIGNATURE_DOMAIN,
  canonicalJson,
  keyIdOf,
  publicKeyOf,
  releaseMessage,
  signRelease,
  signingKeyOf,
  verifyRelease,
  type SignedRelease,
} from './signature.js';
export type { ReleaseSignature, SigningKey } from './signature-types.js';
export { fieldsMessage, signFieldsWith, verifyFields } from './signed-fields.js';
export { healthCheckFromYaml, healthCheckManifest, healthCheckYaml } from './health.js';
