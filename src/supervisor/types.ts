/**
 * The supervisor's vocabulary: what to run (WatchSpec), what state it is in (ProcessStatus),
 * what happened (ProcessEvent) and the tunables (SupervisorOptions). See README.md for the
 * state diagram.
 */
import { DEFAULT_FLAPPING as RELEASE_FLAPPING, DEFAULT_LOGS as RELEASE_LOGS } from '../release/index.js';
import type { ConditionSpec } from './conditions.js';
import type { ContainerRunner, ContainerSpec } from './runner.js';

/**
 * When a process that ended by itself is started again:
 * - `always`: whatever its exit status (a service that must run)
 * - `on-failure`: unless it exited with code 0 (a job that may finish)
 * - `never`: it ends in `exited`
 */
export type RestartPolicy = 'always' | 'on-failure' | 'never';

/** The restart policies, in the order the docs list them. */
export const RESTART_POLICIES: readonly RestartPolicy[] = ['always', 'on-failure', 'never'];

/**
 * god's `flapping`: `times` restarts within `withinMs` move a process to `flapping` (it is not
 * restarted); it is tried again after `retryInMs`, at most `retryTimes` times within
 * `retryWithinMs`; the flap after that gives up (it stays `flapping` until started by hand).
 */
export interface FlappingPolicy {
  times: number;
  withinMs: number;
  retryInMs: number;
  retryTimes: number;
  retryWithinMs: number;
}

/** Size-based rotation of a process's two log files. */
export interface LogPolicy {
  /** a file this big (bytes) is rotated; 0 never rotates */
  maxBytes: number;
  /** rotated files kept: `x.out.log.1` (newest) ... `x.out.log.<keep>` */
  keep: number;
}

/** One supervised process: what to run, how to keep it running, how to stop it. */
export interface WatchSpec {
  /** unique within a Supervisor, e.g. "<tag>/<process>" */
  id: string;
  /** run as `/bin/sh -c command`, in its own process group */
  command: string;
  /** working directory */
  cwd: string;
  /** exactly the environment of the process (merge process.env yourself if wanted) */
  env: Record<string, string>;
  /** stdout goes to `<logDir>/<logName>.out.log`, stderr to `.err.log`, appended */
  logDir: string;
  /** a plain file name part: letters, digits, '.', '_', '-' */
  logName: string;
  /** sent to the whole process group to stop it: 'SIGTERM', 'TERM', 'SIGINT', ... */
  stopSignal: string;
  /** ms between the stop signal (or the stop command) and SIGKILL of the group */
  stopTimeoutMs: number;
  /** ms a new process must stay alive before it counts as `up` */
  startGraceMs: number;
  /** default `always` */
  restart?: RestartPolicy;
  /** default: the supervisor's (see DEFAULT_FLAPPING); null: never flapping */
  flapping?: FlappingPolicy | null;
  /** checked while the process is `up`; each may restart it */
  conditions?: ConditionSpec[];
  /** default DEFAULT_LOG_POLICY */
  logs?: LogPolicy;
  /**
   * run (`/bin/sh -c`, same cwd and env) instead of sending the stop signal; the group still
   * gets SIGKILL after `stopTimeoutMs`. It gets NOOPS_PID, the leader's pid.
   */
  stopCommand?: string;
  /** run as this user (name or uid); needs the supervisor to run as root */
  user?: string;
  /**
   * false: never run as uid 0, whether `user` resolves to it or the supervisor runs as root and
   * no `user` is given (noops releases: root only where the admin allowed it). Absent: no rule.
   */
  allowRoot?: boolean;
  /** folders the process must be able to write: given to `user` when they belong to root (see claimFolders) */
  writable?: string[];
  /** anything the caller wants back in `status()` (tag, release version, port, ...) */
  meta?: Record<string, unknown>;
  /**
   * run in a container (the supervisor's `containers` runner) instead of a process group: same
   * command, cwd, env and user; the stop command runs inside it (else the stop signal goes to it),
   * the engine kills it after `stopTimeoutMs`
   */
  container?: ContainerSpec;
}

/**
 * - `starting`: spawned (or restarted), not yet alive for `startGraceMs`
 * - `up`: stayed alive past the start grace
 * - `backoff`: died; a restart is scheduled
 * - `stopping`: stop signal (or stop command) sent, waiting for the group to go
 * - `stopped`: gone by request; never restarted
 * - `flapping`: restarted too often; retried at `retryAt`, or given up when that is null
 * - `exited`: ended by itself and its restart policy says not to start it again
 */
export type ProcessState = 'starting' | 'up' | 'backoff' | 'stopping' | 'stopped' | 'flapping' | 'exited';

/** Every state, in the order of the README's diagram. */
export const PROCESS_STATES: readonly ProcessState[] = ['starting', 'up', 'backoff', 'stopping', 'stopped', 'flapping', 'exited'];

/** How the last process ended. */
export interface LastExit {
  code: number | null;
  signal: string | null;
  /** ms since the epoch */
  at: number;
  reason: string;
}

/** A plain snapshot of one process, safe to JSON-encode and to persist. */
export interface ProcessStatus {
  id: string;
  state: ProcessState;
  /** the process group leader (`sh`); null when nothing runs */
  pid: number | null;
  /** /proc start time of `pid` in clock ticks since boot; persist it with `pid` for `adopt` */
  startTime: number | null;
  /** ms since the epoch when the current process started; null when nothing runs */
  startedAt: number | null;
  /** restarts the supervisor did by itself (after a death or a condition), since `start` or `adopt` */
  restarts: number;
  /** consecutive deaths before reaching `up`; 0 once a process reaches `up` */
  failedStarts: number;
  /** ms since the epoch of the last state change */
  since: number;
  /** why it is in this state, in words: "exited with code 1", "stopped by request", ... */
  reason: string;
  /** `flapping`: when it is tried again (ms since the epoch); null when given up or not flapping */
  retryAt: number | null;
  /** how the last process ended, if one did */
  lastExit: LastExit | null;
  restartPolicy: RestartPolicy;
  /** true when the running process was adopted from a previous supervisor, not spawned */
  adopted: boolean;
  /** the two log files */
  logs: { out: string; err: string };
  meta: Record<string, unknown>;
  /** a container's id (absent: a process group) */
  container?: string | null;
  /** a container's address on its network */
  address?: string | null;
  /** the last death was the engine's out-of-memory kill */
  oom?: boolean;
}

/** What a new supervisor needs to take over a running process: persist it from `status()`. */
export interface AdoptRecord {
  pid: number;
  startTime: number;
  /** carried over into the status, so restart counts survive an agent restart */
  restarts?: number;
}

/** A process ended (a death or a stop). */
export interface ExitEvent {
  id: string;
  pid: number;
  /** exit code, when the process was our child and exited */
  code: number | null;
  /** the signal that ended it, when our child was killed */
  signal: string | null;
  /** true when it ended because of `stop` (or a restart) */
  requested: boolean;
  reason: string;
}

/**
 * What happened to a process that a person (or a monitor) cares about:
 * `crash` (it died unasked), `restart` (the supervisor started it again), `exited` (its policy
 * let it end), `flapping` (restarted too often, paused), `given-up` (flapping too often),
 * `condition` (a condition fired), `adopted`, `started`, `stopped` (by request); for scheduled
 * commands: `cron` (a run ended well), `cron-failed` (failed, timed out, or could not start),
 * `cron-skipped` (the previous run was still going).
 */
export type EventKind =
  | 'crash'
  | 'restart'
  | 'exited'
  | 'flapping'
  | 'given-up'
  | 'condition'
  | 'adopted'
  | 'started'
  | 'stopped'
  | 'cron'
  | 'cron-failed'
  | 'cron-skipped';

/** One recorded event; `seq` grows by one per event of a Supervisor. */
export interface ProcessEvent {
  seq: number;
  /** ms since the epoch */
  at: number;
  id: string;
  kind: EventKind;
  message: string;
}

/**
 * Events of a Supervisor (an EventEmitter):
 * - `state`: every state change, with the new snapshot
 * - `exit`: a process ended, by death or by stop
 * - `event`: something worth recording happened (see EventKind)
 * It never emits `error`: failures to spawn are deaths (state `backoff`, with the reason).
 */
export interface SupervisorEvents {
  state: [ProcessStatus];
  exit: [ExitEvent];
  event: [ProcessEvent];
}

/** Tunables; the defaults suit a host daemon, tests pass small values. */
export interface SupervisorOptions {
  /** the restart delay after the second consecutive death (the first restarts at once) */
  backoffBaseMs?: number;
  /** the delay doubles per consecutive death up to this */
  backoffMaxMs?: number;
  /** after this long `up`, the next death restarts at once again */
  stableMs?: number;
  /** how often adopted processes (not our children) are checked for life */
  pollMs?: number;
  /** how long to wait for a group to vanish after SIGKILL before giving up */
  killWaitMs?: number;
  /** the flapping policy of specs that name none */
  flapping?: FlappingPolicy | null;
  /** how often log files are checked for rotation */
  logCheckMs?: number;
  /** events kept in memory for `events()` */
  eventsKept?: number;
  /** runs the specs that have a `container` part (none: such a spec cannot start) */
  containers?: ContainerRunner;
}

/** 1 s: the second death in a row waits a second, so a crash loop logs its error without spinning. */
export const DEFAULT_BACKOFF_BASE_MS = 1_000;
/** 30 s: a crash-looping process is retried twice a minute, which logs its error without flooding. */
export const DEFAULT_BACKOFF_MAX_MS = 30_000;
/** 60 s: a process that ran a minute was healthy; its next death is a new incident, not the same loop. */
export const DEFAULT_STABLE_MS = 60_000;
/** 500 ms: adopted processes have no exit event; this bounds how late their death is seen. */
export const DEFAULT_POLL_MS = 500;
/** 5 s: SIGKILL cannot be caught; a group still there after this is stuck in the kernel (D state). */
export const DEFAULT_KILL_WAIT_MS = 5_000;
/** 25 ms: how often `stop` looks whether the group is gone; short, since a stop is waited on. */
export const STOP_POLL_MS = 25;
/**
 * The flapping rule of a spec that names none: release/defaults.ts's (5 restarts in 2 minutes,
 * retried every 5 minutes, 5 times an hour; the reasons are there), in ms. One set of defaults,
 * so a process runs the same whether its manifest spells them out or not.
 */
export const DEFAULT_FLAPPING: FlappingPolicy = {
  times: RELEASE_FLAPPING.times,
  withinMs: RELEASE_FLAPPING.within * 1000,
  retryInMs: RELEASE_FLAPPING.retryIn * 1000,
  retryTimes: RELEASE_FLAPPING.retryTimes,
  retryWithinMs: RELEASE_FLAPPING.retryWithin * 1000,
};
/** The log rotation of a spec that names none: release/defaults.ts's (10 MiB x 5 files per stream). */
export const DEFAULT_LOG_POLICY: LogPolicy = { maxBytes: RELEASE_LOGS.maxSize, keep: RELEASE_LOGS.keep };
/** 2 s: a log may grow past its limit by what a process writes in this time before it rotates. */
export const DEFAULT_LOG_CHECK_MS = 2_000;
/** 200 events: the last few incidents of every process of a busy host. */
export const DEFAULT_EVENTS_KEPT = 200;

/** Every tunable, the defaults filled in. */
export function withDefaults(o: SupervisorOptions): Required<Omit<SupervisorOptions, 'containers'>> {
  return {
    backoffBaseMs: o.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
    backoffMaxMs: o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS,
    stableMs: o.stableMs ?? DEFAULT_STABLE_MS,
    pollMs: o.pollMs ?? DEFAULT_POLL_MS,
    killWaitMs: o.killWaitMs ?? DEFAULT_KILL_WAIT_MS,
    flapping: o.flapping === undefined ? DEFAULT_FLAPPING : o.flapping,
    logCheckMs: o.logCheckMs ?? DEFAULT_LOG_CHECK_MS,
    eventsKept: o.eventsKept ?? DEFAULT_EVENTS_KEPT,
  };
}
