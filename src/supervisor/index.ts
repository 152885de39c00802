/**
 * supervisor/: god-like process supervision on a host. See README.md for the states and
 * the vocabulary.
 */
export { Supervisor } from './supervisor.js';
export { planRestart, type BackoffPolicy, type Death, type RestartPlan } from './backoff.js';
export { groupAlive, normalizeSignal, procAlive, procStartTime, procStat, type ProcStat } from './proc.js';
export { logPaths } from './spawn.js';
export {
  DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS, DEFAULT_KILL_WAIT_MS, DEFAULT_POLL_MS, DEFAULT_STABLE_MS,
  type AdoptRecord, type ExitEvent, type ProcessState, type ProcessStatus, type SupervisorEvents,
  type SupervisorOptions, type WatchSpec,
} from './types.js';
