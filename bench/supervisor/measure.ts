/**
 * What the supervisor benchmark measures, the same way for every contender: the programs they
 * supervise (each records its pid and start time when it starts), the time from a crash (SIGKILL)
 * to the program running again, and the supervisor's own memory and CPU.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The program every contender supervises: records `$$` and the time in ns, then sleeps (same pid). */
export function programScript(startsDir: string, name: string): string {
  return `echo "$$ $(date +%s%N)" > ${join(startsDir, name)}; exec sleep 1000000`;
}

/** The last start a program recorded: its pid and when (ms since the epoch, fractional). */
export function readStart(startsDir: string, name: string): { pid: number; atMs: number } | undefined {
  try {
    const m = /^(\d+) (\d+)\n$/.exec(readFileSync(join(startsDir, name), 'utf8'));
    return m ? { pid: Number(m[1]), atMs: Number(BigInt(m[2]!) / 1000n) / 1000 } : undefined;
  } catch {
    return undefined;
  }
}

/** Now, in ms since the epoch with sub-ms precision (comparable with `date +%s%N`). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Waits until every program has recorded a start whose process runs. */
export async function untilAllRunning(startsDir: string, names: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = names.filter((n) => {
      const s = readStart(startsDir, n);
      return s === undefined || !alive(s.pid);
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${missing.length} of ${names.length} programs never started (e.g. ${missing[0]})`);
    await sleep(50);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Kills the program with SIGKILL and measures until it records a new start: the supervisor's
 * whole path from the crash (noticing the death, deciding, forking, exec) to the program
 * running again. Polls the record every 0.2 ms, so the figure is the program's own start time.
 */
export async function crashToRunning(startsDir: string, name: string, timeoutMs: number): Promise<number> {
  const before = readStart(startsDir, name);
  if (before === undefined) throw new Error(`${name} has not started`);
  const t0 = nowMs();
  process.kill(before.pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = readStart(startsDir, name);
    if (now !== undefined && now.pid !== before.pid) return now.atMs - t0;
    if (Date.now() > deadline) return NaN;
    await sleep(0.2);
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on every Linux Node runs on). */
const TICKS_PER_S = 100;

/** Resident memory (bytes) and CPU time (ms) of a process, or undefined when it is gone. */
export function usage(pid: number): { rssBytes: number; cpuMs: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { rssBytes: Number(rss?.[1] ?? 0) * 1024, cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S };
  } catch {
    return undefined;
  }
}

/**
 * The supervisor's own cost over `windowMs` of steady state: its memory at the end (the sum
 * over its processes) and its CPU as a percentage of one core.
 */
export async function steadyCost(
  pids: () => number[],
  windowMs: number,
): Promise<{ rssMiB: number; cpuPercent: number; processes: number }> {
  const sum = (): { rssBytes: number; cpuMs: number; n: number } => {
    let rssBytes = 0;
    let cpuMs = 0;
    let n = 0;
    for (const pid of pids()) {
      const u = usage(pid);
      if (u === undefined) continue;
      rssBytes += u.rssBytes;
      cpuMs += u.cpuMs;
      n++;
    }
    return { rssBytes, cpuMs, n };
  };
  const a = sum();
  const t0 = Date.now();
  await sleep(windowMs);
  const b = sum();
  const wall = Date.now() - t0;
  return { rssMiB: round(b.rssBytes / 1024 / 1024), cpuPercent: round(((b.cpuMs - a.cpuMs) / wall) * 100, 2), processes: b.n };
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((x, y) => x - y);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
