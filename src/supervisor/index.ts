/**
 * supervisor/: god-like process supervision on a host. See README.md for the states and
 * the vocabulary.
 */
export { Supervisor } from './supervisor.js';
export { planRestart, type BackoffPolicy, type Death, type RestartPlan } from './backoff.js';
export {
  decideConditionRestart,
  decideEnd,
  freshBook,
  type Decision,
  type EndFacts,
  type Policy,
  type RestartBook,
} from './restart-decisions.js';
export {
  CONDITION_KINDS,
  describeCondition,
  formatBytes,
  judge,
  type CheckResult,
  type CommandCondition,
  type ConditionSpec,
  type CpuCondition,
  type HttpCondition,
  type MemoryCondition,
  type TcpCondition,
} from './conditions.js';
export {
  CLOCK_TICKS_PER_SECOND,
  groupAlive,
  isDeadState,
  normalizeSignal,
  procAlive,
  procStartTime,
  procStat,
  signalGroup,
  startTimeToEpochMs,
  type ProcStat,
} from './proc.js';
export { CpuMeter, groupUsage, type GroupUsage } from './usage.js';
export { followFiles, listLogFiles, rotate, rotateIfNeeded, rotatedPath, tailLines, type LogChunk, type LogFile } from './logs.js';
export { logPaths, shellScript } from './spawn.js';
export { asUser, claimFolders, identityFor, resolveUser, spawnIdentity, type RunAs } from './user.js';
export {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_EVENTS_KEPT,
  DEFAULT_FLAPPING,
  DEFAULT_KILL_WAIT_MS,
  DEFAULT_LOG_CHECK_MS,
  DEFAULT_LOG_POLICY,
  DEFAULT_POLL_MS,
  DEFAULT_STABLE_MS,
  PROCESS_STATES,
  RESTART_POLICIES,
  type AdoptRecord,
  type EventKind,
  type ExitEvent,
  type FlappingPolicy,
  type LastExit,
  type LogPolicy,
  type ProcessEvent,
  type ProcessState,
  type ProcessStatus,
  type RestartPolicy,
  type SupervisorEvents,
  type SupervisorOptions,
  type WatchSpec,
} from './types.js';
export { CRON_KILL_GRACE_MS, CronRunner, type CronRun, type CronRunnerEvents, type CronSpec, type CronStatus } from './cron.js';
export { cronSchedule, scheduleProblem, type Schedule } from '../release/schedule.js';
export { EventRing } from './events.js';
export {
  retargetLoopback,
  type ContainerExit,
  type ContainerHandle,
  type ContainerResources,
  type ContainerRunner,
  type ContainerSpec,
} from './runner.js';
export { httpGet, runProbeCommand, tcpConnect, type ProbeCommandOptions, type ProbeCommandOutcome, type ProbeFailure } from './probes.js';
