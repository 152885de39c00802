/**
 * The supervisor's vocabulary: what to run (WatchSpec), what state it is in (ProcessStatus),
 * and the tunables (SupervisorOptions). See README.md for the state diagram.
 */

/** One supervised process: what to run and how to stop it. */
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
  /** ms between the stop signal and SIGKILL of the group */
  stopTimeoutMs: number;
  /** ms a new process must stay alive before it counts as `up` */
  startGraceMs: number;
  /** anything the caller wants back in `status()` (tag, release version, port, ...) */
  meta?: Record<string, unknown>;
}

/**
 * - `starting`: spawned (or restarted), not yet alive for `startGraceMs`
 * - `up`: stayed alive past the start grace
 * - `backoff`: died; a restart is scheduled
 * - `stopping`: stop signal sent, waiting for the group to go
 * - `stopped`: gone by request; never restarted
 */
export type ProcessState = 'starting' | 'up' | 'backoff' | 'stopping' | 'stopped';

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
  /** restarts after a death, since `start` or `adopt` */
  restarts: number;
  /** consecutive deaths before reaching `up`; 0 once a process reaches `up` */
  failedStarts: number;
  /** ms since the epoch of the last state change */
  since: number;
  /** why it is in this state, in words: "exited with code 1", "stopped by request", ... */
  reason: string;
  /** true when the running process was adopted from a previous supervisor, not spawned */
  adopted: boolean;
  /** the two log files */
  logs: { out: string; err: string };
  meta: Record<string, unknown>;
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
  /** true when it ended because of `stop` */
  requested: boolean;
  reason: string;
}

/**
 * Events of a Supervisor (an EventEmitter):
 * - `state`: every state change, with the new snapshot
 * - `exit`: a process ended, by death or by stop
 * It never emits `error`: failures to spawn are deaths (state `backoff`, with the reason).
 */
export interface SupervisorEvents {
  state: [ProcessStatus];
  exit: [ExitEvent];
}

/** Tunables; the defaults suit a host daemon, tests pass small values. */
export interface SupervisorOptions {
  /** first restart delay after a death */
  backoffBaseMs?: number;
  /** the delay doubles per consecutive death up to this */
  backoffMaxMs?: number;
  /** after this long `up`, the next death restarts after `backoffBaseMs` again */
  stableMs?: number;
  /** how often adopted processes (not our children) are checked for life */
  pollMs?: number;
  /** how long to wait for a group to vanish after SIGKILL before giving up */
  killWaitMs?: number;
}

/** 1 s: quick enough that a one-off crash costs little, slow enough not to spin on a crash loop. */
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
