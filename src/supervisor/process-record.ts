/** The supervisor's private record of one process, and the snapshot it gives out. */
import type { ChildProcess } from 'node:child_process';
import type { ConditionRunner } from './condition-runner.js';
import { freshBook, type RestartBook } from './restart-decisions.js';
import { procAlive, procStat, signalGroup } from './proc.js';
import { logPaths } from './spawn.js';
import type { AdoptRecord, FlappingPolicy, LastExit, LogPolicy, ProcessState, ProcessStatus, RestartPolicy, WatchSpec } from './types.js';
import type { RunAs } from './user.js';
import type { ContainerHandle } from './runner.js';

export interface ProcessRecord {
  spec: WatchSpec;
  signal: NodeJS.Signals;
  runAs: RunAs | undefined;
  /**
   * Why the process may not be started again: an adopted process that runs as root where root
   * is no longer allowed keeps running (stopping it is a person's call), but is never restarted.
   */
  refusal?: Error;
  restartPolicy: RestartPolicy;
  flapping: FlappingPolicy | null;
  logPolicy: LogPolicy;
  state: ProcessState;
  since: number;
  reason: string;
  pid: number | null;
  startTime: number | null;
  startedAt: number | null;
  /** when it reached `up` (for adopted processes: when it started) */
  upAt: number | null;
  restarts: number;
  book: RestartBook;
  retryAt: number | null;
  lastExit: LastExit | null;
  adopted: boolean;
  child: ChildProcess | null;
  /** the running container (a spec with `container`), else null */
  container: ContainerHandle | null;
  /** the last death was the engine's out-of-memory kill */
  oom: boolean;
  /** true once the exit of the spawned leader was seen (it is reaped) */
  leaderExited: boolean;
  /** how the spawned leader exited, for the exit event of a stop */
  exitStatus: { code: number | null; signal: string | null };
  /** bumped by every launch, stop and detach: a callback of an older generation does nothing */
  gen: number;
  grace?: NodeJS.Timeout;
  /** the pending restart (backoff) or retry (flapping) */
  timer?: NodeJS.Timeout;
  poll?: NodeJS.Timeout;
  runner: ConditionRunner | null;
  /** a stop or restart in progress */
  op: Promise<void> | null;
  /** set by stop(): a restart in progress ends stopped instead */
  wantStop: boolean;
}

/** A new record, not yet started. */
export function newRecord(
  spec: WatchSpec,
  fixed: Pick<ProcessRecord, 'signal' | 'runAs' | 'restartPolicy' | 'flapping' | 'logPolicy'>,
): ProcessRecord {
  return {
    spec: { ...spec, env: { ...spec.env }, meta: { ...(spec.meta ?? {}) } },
    ...fixed,
    state: 'starting',
    since: Date.now(),
    reason: '',
    pid: null,
    startTime: null,
    startedAt: null,
    upAt: null,
    restarts: 0,
    book: freshBook(),
    retryAt: null,
    lastExit: null,
    adopted: false,
    child: null,
    container: null,
    oom: false,
    leaderExited: false,
    exitStatus: { code: null, signal: null },
    gen: 0,
    runner: null,
    op: null,
    wantStop: false,
  };
}

/** Forgets the running process (it is gone). */
export function clearProcess(entry: ProcessRecord): void {
  Object.assign(entry, { pid: null, startTime: null, startedAt: null, upAt: null, child: null, container: null, adopted: false });
}

/** Ends every timer and the condition checks. */
export function clearTimers(entry: ProcessRecord): void {
  clearTimeout(entry.grace);
  clearTimeout(entry.timer);
  clearInterval(entry.poll);
  entry.grace = entry.timer = entry.poll = undefined;
  entry.runner?.stop();
  entry.runner = null;
}

/** SIGKILL to what a dead leader left in its group; a failure here must not stop the restart. */
export function killRemnants(pgid: number): void {
  try {
    signalGroup(pgid, 'SIGKILL');
  } catch {
    // EPERM: a member changed its credentials; it is no longer ours to kill.
  }
}

export function snapshot(entry: ProcessRecord): ProcessStatus {
  return {
    id: entry.spec.id,
    state: entry.state,
    pid: entry.pid,
    startTime: entry.startTime,
    startedAt: entry.startedAt,
    restarts: entry.restarts,
    failedStarts: entry.book.failedStarts,
    since: entry.since,
    reason: entry.reason,
    retryAt: entry.retryAt,
    lastExit: entry.lastExit === null ? null : { ...entry.lastExit },
    restartPolicy: entry.restartPolicy,
    adopted: entry.adopted,
    logs: logPaths(entry.spec),
    meta: { ...(entry.spec.meta ?? {}) },
    ...(entry.spec.container && { container: entry.container?.id ?? null, address: entry.container?.address ?? null, oom: entry.oom }),
  };
}

/** Whether something runs for the record: a process group or a container. */
export function running(entry: ProcessRecord): boolean {
  return entry.pid !== null || entry.container !== null;
}

/** Why a recorded process cannot be adopted, or null when it can. */
export function notAdoptable(record: AdoptRecord): string | null {
  const stat = procStat(record.pid);
  if (stat === null || !procAlive(record.pid, null)) return 'is gone';
  if (stat.startTime !== record.startTime) return 'is another process now (start time differs)';
  if (stat.pgrp !== record.pid) return 'is not a process group leader, so not one we started';
  return null;
}
