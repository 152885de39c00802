/**
 * What the kernel says about a process: its start time, state and process group, read from
 * `/proc/<pid>/stat`, and the signals the supervisor sends to whole process groups.
 *
 * Linux only. Elsewhere the readers return null and the supervisor falls back to
 * `process.kill(pid, 0)` alone (it then cannot tell a reused pid from its own process).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/**
 * Clock ticks per second of `/proc/<pid>/stat`'s starttime. The kernel reports it in USER_HZ,
 * which is 100 on every Linux architecture Node runs on (x86, arm, arm64, ppc, s390), so it is
 * a constant rather than a `getconf CLK_TCK` call.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of `/proc/<pid>/stat` that the supervisor uses. */
export interface ProcStat {
  /** one letter: R running, S sleeping, D disk, Z zombie, T stopped, X dead, ... */
  state: string;
  /** parent pid (field 4) */
  ppid: number;
  /** process group id (field 5) */
  pgrp: number;
  /** start time in clock ticks since boot (field 22): with the pid, it names one process */
  startTime: number;
  /** CPU time in user and kernel mode, clock ticks (fields 14 and 15) */
  utime: number;
  stime: number;
}

/**
 * Reads `/proc/<pid>/stat`, or null when there is no such process (or no /proc).
 *
 * @example procStat(process.pid)?.startTime // 123456
 */
export function procStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is in parentheses and may itself hold spaces and ')': cut after the last one.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3, so field N is rest[N - 3].
  const startTime = Number(rest[22 - 3]);
  const ppid = Number(rest[4 - 3]);
  const pgrp = Number(rest[5 - 3]);
  if (!Number.isFinite(startTime) || !Number.isFinite(pgrp)) return null;
  return { state: rest[0] ?? '?', ppid, pgrp, startTime, utime: Number(rest[14 - 3]) || 0, stime: Number(rest[15 - 3]) || 0 };
}

/**
 * The start time of a process (field 22 of `/proc/<pid>/stat`, clock ticks since boot), or null
 * when it does not exist. A pid with its start time names one process even after pid reuse:
 * persist both, and compare both before signalling a process you did not spawn.
 *
 * @example procStartTime(pid) === saved.startTime // still the process we started
 */
export function procStartTime(pid: number): number | null {
  return procStat(pid)?.startTime ?? null;
}

/** True when a zombie or a dead entry: it runs no more, whatever kill(pid, 0) says. */
export function isDeadState(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/**
 * True when `pid` is running (not a zombie) and, if `startTime` is given and /proc is there,
 * started at that time (so it is the same process, not a later one with a reused pid).
 */
export function procAlive(pid: number, startTime: number | null): boolean {
  if (!exists(pid)) return false;
  const stat = procStat(pid);
  if (stat === null) return startTime === null; // no /proc: trust kill(pid, 0) only
  if (isDeadState(stat.state)) return false;
  return startTime === null || stat.startTime === startTime;
}

/**
 * True when some process of group `pgid` still runs. Zombies do not count: when the init
 * process of a host (or a container's PID 1) does not reap orphans, they stay forever and
 * `process.kill(-pgid, 0)` keeps succeeding. Scans /proc only when the group exists.
 */
export function groupAlive(pgid: number): boolean {
  if (!exists(-pgid)) return false;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return true; // no /proc: trust kill(-pgid, 0)
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat !== null && stat.pgrp === pgid && !isDeadState(stat.state)) return true;
  }
  return false;
}

/** kill(target, 0): true when the process (or, for a negative target, the group) exists. */
function exists(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sends `signal` to every process of group `pgid` (`kill(-pgid, signal)`). Returns false when
 * the group is already gone (ESRCH); other errors are thrown.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * `SIGTERM`, `TERM` or `term` -> `SIGTERM`; null when the system has no such signal.
 *
 * @example normalizeSignal('hup') // 'SIGHUP'
 */
export function normalizeSignal(name: string): NodeJS.Signals | null {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return Object.hasOwn(constants.signals, full) ? (full as NodeJS.Signals) : null;
}

/** Boot time in ms since the epoch (`btime` of /proc/stat), or null. */
function bootTimeMs(): number | null {
  try {
    const match = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return match ? Number(match[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/** Wall-clock start (ms since the epoch) of a process from its /proc start time, or null. */
export function startTimeToEpochMs(startTime: number): number | null {
  const boot = bootTimeMs();
  return boot === null ? null : boot + Math.round((startTime * 1000) / CLOCK_TICKS_PER_SECOND);
}
