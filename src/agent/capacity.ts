/**
 * What this host offers the scheduler (issue 18): its cores, memory, the size of the file system
 * of the agent's data folder, and how many ports are free in the range `port: auto` takes them
 * from (the kernel's ephemeral range: the agent asks the system for a free port). Measured when
 * the agent starts and every minute after; `noops agent --capacity cpu=4,memory=8G,disk=100G`
 * overrides each named one, for a host shared with other work. Every report carries the last
 * measure; the server stores it only when it changed, so the measures are kept steady: sizes as
 * the system gives them, the free ports to the hundred below.
 */
import { availableParallelism, totalmem } from 'node:os';
import { readFile, statfs } from 'node:fs/promises';
import type { CapacityOverride, HostCapacity } from '../api/index.js';

/** How often the host is measured again. */
export const CAPACITY_EVERY_MS = 60_000;
/** Linux's default ephemeral range, for a system that does not say its own. */
const DEFAULT_PORT_RANGE: [number, number] = [32768, 60999];
/** Free ports are reported to this step below, so that a few sockets opening do not change the report. */
export const FREE_PORTS_STEP = 100;
/**
 * One count of the free ports serves every agent of this process for this long: the fleet
 * benchmark runs a thousand agents in one process, on one host.
 */
const PORTS_MEMO_MS = 10_000;

/** The kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`: `32768\t60999`), or undefined. */
export function parsePortRange(text: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const [low, high] = [Number(m[1]), Number(m[2])];
  return low >= 1 && high <= 65535 && low <= high ? [low, high] : undefined;
}

/** A socket's line: its number, then its local address's hex port after the address's hex digits. */
const LOCAL_PORT_RE = /^[ \t]*\d+:[ \t]+[0-9A-Fa-f]+:([0-9A-Fa-f]+)[ \t]/gm;

/** The local ports of the sockets in a `/proc/net/tcp` or `tcp6` table. */
export function localPortsOf(table: string): number[] {
  const out: number[] = [];
  // one pass of one expression over the table: a host with tens of thousands of sockets has a
  // table of megabytes, and splitting each line cost a simulated fleet's worker 200 ms a read
  for (const m of table.matchAll(LOCAL_PORT_RE)) out.push(Number.parseInt(m[1]!, 16));
  return out;
}

/** Ports of `range` no socket holds, to the FREE_PORTS_STEP below. */
export function countFreePorts(range: [number, number], used: Iterable<number>): number {
  const taken = new Set<number>();
  for (const p of used) if (p >= range[0] && p <= range[1]) taken.add(p);
  const free = range[1] - range[0] + 1 - taken.size;
  return Math.max(0, Math.floor(free / FREE_PORTS_STEP) * FREE_PORTS_STEP);
}

async function readOr(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return ''; // not Linux, or no /proc: the range's default and no sockets known
  }
}

/** Free ports in the ephemeral range, from /proc (the whole range where /proc says nothing). */
async function measureFreePorts(): Promise<number> {
  const range = parsePortRange(await readOr('/proc/sys/net/ipv4/ip_local_port_range')) ?? DEFAULT_PORT_RANGE;
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map(readOr));
  return countFreePorts(range, tables.flatMap(localPortsOf));
}

let portsMemo: { at: number; count: Promise<number> } | undefined;

function freePortsNow(now: number): Promise<number> {
  if (!portsMemo || now - portsMemo.at >= PORTS_MEMO_MS) portsMemo = { at: now, count: measureFreePorts() };
  return portsMemo.count;
}

/** The size in bytes of the file system `dir` is on (0 when it cannot be read). */
async function diskSize(dir: string): Promise<number> {
  try {
    const s = await statfs(dir);
    return s.blocks * s.bsize;
  } catch {
    return 0;
  }
}

/** What the host offers as measured: cores, memory, the data folder's disk, free ports. */
export async function measureCapacity(root: string, now = Date.now()): Promise<HostCapacity> {
  const [disk, freePorts] = await Promise.all([diskSize(root), freePortsNow(now)]);
  return { cpu: availableParallelism(), memory: totalmem(), disk, freePorts };
}

/** The measure with each overridden field in its place. */
export function withOverride(measured: HostCapacity, override: CapacityOverride | undefined): HostCapacity {
  return { ...measured, ...override };
}

/** Keeps the host's capacity measured, for the reports. */
export class CapacityGauge {
  private last: HostCapacity | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      root: string;
      override?: CapacityOverride;
      everyMs?: number;
      /** the measure (tests pass their own) */
      measure?: (root: string) => Promise<HostCapacity>;
      log?: (line: string) => void;
    },
  ) {}

  /** The last measure with the overrides; undefined before the first. */
  current(): HostCapacity | undefined {
    return this.last;
  }

  /** Measures now, and again every `everyMs` until stopped. */
  async start(): Promise<void> {
    await this.measure();
    this.timer = setInterval(() => void this.measure(), this.opts.everyMs ?? CAPACITY_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async measure(): Promise<void> {
    try {
      this.last = withOverride(await (this.opts.measure ?? measureCapacity)(this.opts.root), this.opts.override);
    } catch (err) {
      this.opts.log?.(`capacity: could not measure the host: ${(err as Error).message}`);
    }
  }
}
