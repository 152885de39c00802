/**
 * What a supervised process costs: the resident memory and the CPU time of its whole process
 * group (what it forked counts too), read from /proc. Linux only; elsewhere usage is null.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CLOCK_TICKS_PER_SECOND, isDeadState, procStat, type ProcStat } from './proc.js';

/** Resources of one process group at one moment. */
export interface GroupUsage {
  /** resident memory of every live member, bytes */
  rssBytes: number;
  /** user + system CPU time of every live member, clock ticks */
  cpuTicks: number;
  /** live members */
  processes: number;
}

/**
 * 250 ms: a scan of /proc costs a read per process of the host; conditions and the metrics of
 * many watches that look at the same moment share one scan.
 */
const SCAN_MAX_AGE_MS = 250;

let lastScan: { at: number; table: Map<number, ProcStat> } | undefined;

/** Every process of the host by pid, from a scan at most SCAN_MAX_AGE_MS old. */
function procTable(now = Date.now()): Map<number, ProcStat> {
  if (lastScan && now - lastScan.at < SCAN_MAX_AGE_MS) return lastScan.table;
  const table = new Map<number, ProcStat>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    // no /proc: an empty table
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st !== null) table.set(Number(name), st);
  }
  lastScan = { at: now, table };
  return table;
}

/** VmRSS of /proc/<pid>/status in bytes (0 when it is gone or a kernel thread). */
function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * The usage of process group `pgid` (zombies do not count), or null when it has no live member
 * or there is no /proc.
 *
 * @example groupUsage(status.pid!)?.rssBytes // 31457280
 */
export function groupUsage(pgid: number): GroupUsage | null {
  let rssBytes = 0;
  let cpuTicks = 0;
  let processes = 0;
  for (const [pid, st] of procTable()) {
    if (st.pgrp !== pgid || isDeadState(st.state)) continue;
    processes++;
    cpuTicks += st.utime + st.stime;
    rssBytes += rssOf(pid);
  }
  return processes === 0 ? null : { rssBytes, cpuTicks, processes };
}

/**
 * CPU use as a percentage of one core between two samples (a group that keeps two cores busy
 * shows 200). The first sample, and a group whose members changed so much that its time went
 * down, give null.
 *
 * @example
 *   const cpu = new CpuMeter();
 *   cpu.sample(u1.cpuTicks, t1); // null
 *   cpu.sample(u2.cpuTicks, t2); // 12.5
 */
export class CpuMeter {
  #last: { ticks: number; at: number } | undefined;

  sample(ticks: number, at = Date.now()): number | null {
    const last = this.#last;
    this.#last = { ticks, at };
    if (last === undefined || at <= last.at || ticks < last.ticks) return null;
    const cpuSeconds = (ticks - last.ticks) / CLOCK_TICKS_PER_SECOND;
    return (cpuSeconds / ((at - last.at) / 1000)) * 100;
  }
}
