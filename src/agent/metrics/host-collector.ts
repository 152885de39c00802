/**
 * The host's base metrics under Open-Falcon agent's names, types and tags (modules/agent/funcs of
 * falcon-plus): cpu.*, mem.*, df.* per mount, load.*, net.if.* per interface, disk.io.* per disk,
 * kernel.*, read from /proc, /sys and statfs. Percentages of CPU time and the disk figures that
 * need a rate are computed between two collections, as Falcon's agent does: the first collection
 * yields none of them.
 *
 * @example
 *   const host = new HostCollector();
 *   const { points, errors } = await host.collect('web-1', 60, Date.now());
 */
import { readFile, readlink, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetricSample } from '../../api/index.js';
import {
  type CpuTimes,
  type DiskCounters,
  parseDiskstats,
  parseFileNr,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  realMounts,
  reportedDisk,
  reportedIface,
} from './proc-parse.js';

/** At most this many mounts, interfaces or disks each: a misconfigured host cannot flood the queue. */
export const MAX_PER_KIND = 64;

/** Where the collector reads; tests point it at fixtures. */
export interface HostCollectorOptions {
  /** default /proc */
  proc?: string;
  /** default /sys */
  sys?: string;
}

/** What one collection found: the points, and what could not be read (for the agent's log). */
export interface Collected {
  points: MetricSample[];
  errors: string[];
}

/** Rounded to 1/1000: enough for a percentage, and a report a third smaller than with 17 digits. */
function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** See the file's comment. */
export class HostCollector {
  readonly #proc: string;
  readonly #sys: string;
  #cpu: CpuTimes | undefined;
  #disks = new Map<string, { at: number; c: DiskCounters }>();

  constructor(opts: HostCollectorOptions = {}) {
    this.#proc = opts.proc ?? '/proc';
    this.#sys = opts.sys ?? '/sys';
  }

  /** One collection: every point at `nowMs` (seconds in the points), `step` seconds apart. */
  async collect(endpoint: string, step: number, nowMs: number): Promise<Collected> {
    const timestamp = Math.floor(nowMs / 1000);
    const points: MetricSample[] = [];
    const errors: string[] = [];
    const add = (metric: string, value: number, counterType: 'GAUGE' | 'COUNTER' = 'GAUGE', tags = ''): void => {
      if (Number.isFinite(value)) points.push({ endpoint, metric, value, timestamp, step, counterType, tags });
    };
    const parts: [string, () => Promise<void>][] = [
      ['cpu', () => this.#cpuPoints(add)],
      ['mem', () => this.#memPoints(add)],
      ['load', () => this.#loadPoints(add)],
      ['kernel', () => this.#kernelPoints(add)],
      ['df', () => this.#dfPoints(add)],
      ['net', () => this.#netPoints(add)],
      ['disk', () => this.#diskPoints(add, nowMs)],
    ];
    for (const [name, part] of parts) {
      try {
        await part();
      } catch (err) {
        errors.push(`${name}: ${(err as Error).message}`);
      }
    }
    return { points, errors };
  }

  #read(path: string): Promise<string> {
    return readFile(join(this.#proc, path), 'utf8');
  }

  async #cpuPoints(add: Add): Promise<void> {
    const now = parseProcStat(await this.#read('stat'));
    if (now === undefined) throw new Error('no cpu line in /proc/stat');
    const prev = this.#cpu;
    this.#cpu = now;
    if (prev === undefined) return; // Falcon's CpuPrepared: two samples are needed
    const dt = now.total - prev.total;
    const pct = (k: keyof CpuTimes): number => (dt <= 0 ? 0 : round3(((now[k] - prev[k]) * 100) / dt));
    const idle = pct('idle');
    add('cpu.idle', idle);
    add('cpu.busy', round3(100 - idle));
    add('cpu.user', pct('user'));
    add('cpu.nice', pct('nice'));
    add('cpu.system', pct('system'));
    add('cpu.iowait', pct('iowait'));
    add('cpu.irq', pct('irq'));
    add('cpu.softirq', pct('softirq'));
    add('cpu.steal', pct('steal'));
    add('cpu.guest', pct('guest'));
    add('cpu.switches', now.switches, 'COUNTER');
  }

  async #memPoints(add: Add): Promise<void> {
    const m = parseMeminfo(await this.#read('meminfo'));
    const get = (k: string): number => m.get(k) ?? 0;
    const total = get('MemTotal');
    if (total === 0) throw new Error('no MemTotal in /proc/meminfo');
    // Falcon's: free is MemFree + Buffers + Cached (what the kernel gives back when asked)
    const free = get('MemFree') + get('Buffers') + get('Cached');
    const used = total - free;
    const swapTotal = get('SwapTotal');
    const swapFree = get('SwapFree');
    const swapUsed = swapTotal - swapFree;
    add('mem.memtotal', total);
    add('mem.memused', used);
    add('mem.memfree', free);
    add('mem.swaptotal', swapTotal);
    add('mem.swapused', swapUsed);
    add('mem.swapfree', swapFree);
    add('mem.memfree.percent', round3((free * 100) / total));
    add('mem.memused.percent', round3((used * 100) / total));
    add('mem.swapfree.percent', swapTotal === 0 ? 0 : round3((swapFree * 100) / swapTotal));
    add('mem.swapused.percent', swapTotal === 0 ? 0 : round3((swapUsed * 100) / swapTotal));
  }

  async #loadPoints(add: Add): Promise<void> {
    const l = parseLoadavg(await this.#read('loadavg'));
    if (l === undefined) throw new Error('/proc/loadavg is not three numbers');
    add('load.1min', l[0]);
    add('load.5min', l[1]);
    add('load.15min', l[2]);
  }

  async #kernelPoints(add: Add): Promise<void> {
    const maxFiles = Number((await this.#read('sys/fs/file-max')).trim());
    const allocated = parseFileNr(await this.#read('sys/fs/file-nr'));
    const maxProc = Number((await this.#read('sys/kernel/pid_max')).trim());
    add('kernel.maxfiles', maxFiles);
    add('kernel.maxproc', maxProc);
    if (allocated === undefined) throw new Error('/proc/sys/fs/file-nr is not three numbers');
    add('kernel.files.allocated', allocated);
    add('kernel.files.left', maxFiles - allocated);
  }

  async #dfPoints(add: Add): Promise<void> {
    let diskTotal = 0;
    let diskUsed = 0;
    const unreadable: string[] = [];
    for (const m of realMounts(await this.#read('mounts')).slice(0, MAX_PER_KIND)) {
      let s: Awaited<ReturnType<typeof statfs>>;
      try {
        s = await statfs(m.file);
      } catch (err) {
        unreadable.push(`${m.file}: ${(err as Error).message}`); // the other mounts are still reported
        continue;
      }
      const tags = `mount=${m.file},fstype=${m.fstype}`;
      const used = s.blocks - s.bfree;
      // Falcon's (nux BuildDeviceUsage): used of what users may use, root's reserve left out
      const usedPct = s.blocks === 0 ? 100 : round3((used * 100) / (used + s.bavail));
      const inodesUsed = s.files - s.ffree;
      const inodesUsedPct = s.files === 0 ? 100 : round3((inodesUsed * 100) / s.files);
      diskTotal += s.blocks * s.bsize;
      diskUsed += used * s.bsize;
      add('df.bytes.total', s.blocks * s.bsize, 'GAUGE', tags);
      add('df.bytes.used', used * s.bsize, 'GAUGE', tags);
      add('df.bytes.free', s.bavail * s.bsize, 'GAUGE', tags);
      add('df.bytes.used.percent', usedPct, 'GAUGE', tags);
      add('df.bytes.free.percent', round3(100 - usedPct), 'GAUGE', tags);
      add('df.inodes.total', s.files, 'GAUGE', tags);
      add('df.inodes.used', inodesUsed, 'GAUGE', tags);
      add('df.inodes.free', s.ffree, 'GAUGE', tags);
      add('df.inodes.used.percent', inodesUsedPct, 'GAUGE', tags);
      add('df.inodes.free.percent', round3(100 - inodesUsedPct), 'GAUGE', tags);
    }
    if (diskTotal > 0) {
      add('df.statistics.total', diskTotal);
      add('df.statistics.used', diskUsed);
      add('df.statistics.used.percent', round3((diskUsed * 100) / diskTotal));
    }
    if (unreadable.length > 0) throw new Error(`statfs failed for ${unreadable.join('; ')}`);
  }

  async #netPoints(add: Add): Promise<void> {
    const all = parseNetDev(await this.#read('net/dev'));
    let n = 0;
    for (const c of all) {
      if (n >= MAX_PER_KIND) break;
      if (!reportedIface(c.iface, await this.#physical(c.iface))) continue;
      n++;
      const tags = `iface=${c.iface}`;
      add('net.if.in.bytes', c.inBytes, 'COUNTER', tags);
      add('net.if.in.packets', c.inPackets, 'COUNTER', tags);
      add('net.if.in.errors', c.inErrors, 'COUNTER', tags);
      add('net.if.in.dropped', c.inDropped, 'COUNTER', tags);
      add('net.if.out.bytes', c.outBytes, 'COUNTER', tags);
      add('net.if.out.packets', c.outPackets, 'COUNTER', tags);
      add('net.if.out.errors', c.outErrors, 'COUNTER', tags);
      add('net.if.out.dropped', c.outDropped, 'COUNTER', tags);
      add('net.if.total.bytes', c.inBytes + c.outBytes, 'COUNTER', tags);
      add('net.if.total.packets', c.inPackets + c.outPackets, 'COUNTER', tags);
    }
  }

  /** Whether an interface is a device of the machine: its /sys/class/net link does not lead into devices/virtual. */
  async #physical(iface: string): Promise<boolean> {
    try {
      return !(await readlink(join(this.#sys, 'class/net', iface))).includes('/virtual/');
    } catch {
      return false; // no /sys (a container without it): only Falcon's prefixes count
    }
  }

  async #diskPoints(add: Add, nowMs: number): Promise<void> {
    const seen = new Map<string, { at: number; c: DiskCounters }>();
    for (const c of parseDiskstats(await this.#read('diskstats'))) {
      if (!reportedDisk(c.device) || seen.size >= MAX_PER_KIND) continue;
      seen.set(c.device, { at: nowMs, c });
      const tags = `device=${c.device}`;
      // Falcon's DiskIOMetrics: the raw counters, all as COUNTER (ios_in_progress too, as there)
      add('disk.io.read_requests', c.readRequests, 'COUNTER', tags);
      add('disk.io.read_merged', c.readMerged, 'COUNTER', tags);
      add('disk.io.read_sectors', c.readSectors, 'COUNTER', tags);
      add('disk.io.msec_read', c.msecRead, 'COUNTER', tags);
      add('disk.io.write_requests', c.writeRequests, 'COUNTER', tags);
      add('disk.io.write_merged', c.writeMerged, 'COUNTER', tags);
      add('disk.io.write_sectors', c.writeSectors, 'COUNTER', tags);
      add('disk.io.msec_write', c.msecWrite, 'COUNTER', tags);
      add('disk.io.ios_in_progress', c.iosInProgress, 'COUNTER', tags);
      add('disk.io.msec_total', c.msecTotal, 'COUNTER', tags);
      add('disk.io.msec_weighted_total', c.msecWeightedTotal, 'COUNTER', tags);
      const prev = this.#disks.get(c.device);
      if (prev === undefined || nowMs <= prev.at) continue;
      // Falcon's IOStatsMetrics, between two collections (iostat -x's figures)
      const d = (k: keyof DiskCounters): number => Math.max(0, (c[k] as number) - (prev.c[k] as number));
      const ios = d('readRequests') + d('writeRequests');
      const ms = nowMs - prev.at;
      add('disk.io.read_bytes', d('readSectors') * 512, 'GAUGE', tags);
      add('disk.io.write_bytes', d('writeSectors') * 512, 'GAUGE', tags);
      add('disk.io.avgrq_sz', ios === 0 ? 0 : round3((d('readSectors') + d('writeSectors')) / ios), 'GAUGE', tags);
      add('disk.io.avgqu-sz', round3(d('msecWeightedTotal') / ms), 'GAUGE', tags);
      add('disk.io.await', ios === 0 ? 0 : round3((d('msecRead') + d('msecWrite')) / ios), 'GAUGE', tags);
      add('disk.io.svctm', ios === 0 ? 0 : round3(d('msecTotal') / ios), 'GAUGE', tags);
      add('disk.io.util', Math.min(100, round3((d('msecTotal') * 100) / ms)), 'GAUGE', tags);
    }
    this.#disks = seen;
  }
}

type Add = (metric: string, value: number, counterType?: 'GAUGE' | 'COUNTER', tags?: string) => void;
