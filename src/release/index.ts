/**
 * The release-package spec, shared by the build, the server and the agent: noops.yaml, the
 * Procfile, and manifest.json. See docs/package-spec.md.
 */
export type { HealthCheck, ProcessSpec, ReleaseManifest } from './types.js';
export { DEFAULT_HEALTH_INTERVAL_S, DEFAULT_HEALTH_TIMEOUT_S, healthCheckOf } from './health.js';
export { noopsYamlSchema, parseNoopsYaml, type NoopsYaml, type NoopsYamlProcess } from './noops-yaml.js';
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
export { ENV_NAME_RE, PROCESS_NAME_RE, STOP_SIGNALS } from './fields.js';
export { fenceNodePackageScope } from './node-scope.js';
