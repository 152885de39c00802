/**
 * What a process has used so far, from /proc: CPU time and bytes written. Read before and
 * after a phase, the difference is what the phase cost that process (and only it).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 a second everywhere). */
const TICKS_PER_S = 100;

export interface ProcUsage {
  /** user + system CPU time, in ms */
  cpuMs: number;
  /** bytes passed to write(2) and send(2): sockets and files (/proc/<pid>/io wchar) */
  writtenBytes: number;
  /** resident memory, in bytes */
  rssBytes: number;
  /** when this was read (ms since the epoch) */
  at: number;
}

/** The usage of one process, or undefined when it is gone. */
export function procUsage(pid: number): ProcUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const wchar = Number(/^wchar:\s+(\d+)/m.exec(io)?.[1] ?? 0);
    return { cpuMs: ((utime + stime) * 1000) / TICKS_PER_S, writtenBytes: wchar, rssBytes: rssPages * 4096, at: Date.now() };
  } catch {
    return undefined;
  }
}

/** The usage between two readings: CPU ms, share of one core, bytes written. */
export function usageBetween(a: ProcUsage, b: ProcUsage): { cpuMs: number; coreShare: number; writtenBytes: number; wallMs: number } {
  const wallMs = Math.max(1, b.at - a.at);
  const cpuMs = b.cpuMs - a.cpuMs;
  return { cpuMs, coreShare: cpuMs / wallMs, writtenBytes: b.writtenBytes - a.writtenBytes, wallMs };
}

/** How many files (sockets, pipes, the database) the process holds open now, from /proc/PID/fd; undefined when it is gone. */
export function openFiles(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}
