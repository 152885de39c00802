/**
 * Pure parsers of the kernel's text files the host metrics come from (/proc/stat, /proc/meminfo,
 * /proc/loadavg, /proc/net/dev, /proc/diskstats, /proc/mounts, /proc/sys/fs/file-nr), and the
 * filters that pick which interfaces, disks and mounts are reported. Each takes the file's text
 * and returns numbers; the reading is `host-collector.ts`'s. Tested on fixtures and on this
 * machine's real files.
 */

/** The whole machine's CPU time in ticks (the first `cpu` line of /proc/stat), and context switches. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  guest: number;
  /** the sum of every field of the line, as Falcon's agent sums it (guest is counted twice, as there) */
  total: number;
  /** context switches since boot (`ctxt`) */
  switches: number;
}

/** /proc/stat: the `cpu` line and `ctxt`. */
export function parseProcStat(text: string): CpuTimes | undefined {
  let cpu: CpuTimes | undefined;
  let switches = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const at = (i: number): number => (Number.isFinite(f[i]) ? f[i]! : 0);
      cpu = {
        user: at(0),
        nice: at(1),
        system: at(2),
        idle: at(3),
        iowait: at(4),
        irq: at(5),
        softirq: at(6),
        steal: at(7),
        guest: at(8),
        total: f.reduce((sum, v) => sum + (Number.isFinite(v) ? v : 0), 0),
        switches: 0,
      };
    } else if (line.startsWith('ctxt ')) switches = Number(line.slice(5).trim()) || 0;
  }
  return cpu && { ...cpu, switches };
}

/** /proc/meminfo's fields, in bytes (the file gives kB). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1));
  }
  return out;
}

/** /proc/loadavg: the 1, 5 and 15 minute load averages. */
export function parseLoadavg(text: string): [number, number, number] | undefined {
  const f = text.trim().split(/\s+/).slice(0, 3).map(Number);
  return f.length === 3 && f.every(Number.isFinite) ? (f as [number, number, number]) : undefined;
}

/** One interface's counters from /proc/net/dev. */
export interface NetCounters {
  iface: string;
  inBytes: number;
  inPackets: number;
  inErrors: number;
  inDropped: number;
  outBytes: number;
  outPackets: number;
  outErrors: number;
  outDropped: number;
}

/** /proc/net/dev: every interface's counters (lines with 16 numbers after `NAME:`). */
export function parseNetDev(text: string): NetCounters[] {
  const out: NetCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length !== 16 || !f.every(Number.isFinite)) continue;
    out.push({
      iface: line.slice(0, colon).trim(),
      inBytes: f[0]!,
      inPackets: f[1]!,
      inErrors: f[2]!,
      inDropped: f[3]!,
      outBytes: f[8]!,
      outPackets: f[9]!,
      outErrors: f[10]!,
      outDropped: f[11]!,
    });
  }
  return out;
}

/**
 * Whether an interface is reported: Falcon's default prefixes (`eth`, `em`), and any other that is
 * a device of the machine (`physical`: not under /sys/devices/virtual, e.g. `ens3`, `enp0s3`),
 * or a bond. Loopback, bridges, veths and tunnels are not: a host with containers has hundreds.
 */
export function reportedIface(iface: string, physical: boolean): boolean {
  if (iface === 'lo') return false;
  return iface.startsWith('eth') || iface.startsWith('em') || iface.startsWith('bond') || physical;
}

/** One block device's counters from /proc/diskstats (sectors of 512 bytes, times in ms). */
export interface DiskCounters {
  device: string;
  readRequests: number;
  readMerged: number;
  readSectors: number;
  msecRead: number;
  writeRequests: number;
  writeMerged: number;
  writeSectors: number;
  msecWrite: number;
  iosInProgress: number;
  msecTotal: number;
  msecWeightedTotal: number;
}

/** /proc/diskstats: every device's first eleven counters. */
export function parseDiskstats(text: string): DiskCounters[] {
  const out: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = f.slice(3, 14).map(Number);
    if (!n.every(Number.isFinite)) continue;
    out.push({
      device: f[2]!,
      readRequests: n[0]!,
      readMerged: n[1]!,
      readSectors: n[2]!,
      msecRead: n[3]!,
      writeRequests: n[4]!,
      writeMerged: n[5]!,
      writeSectors: n[6]!,
      msecWrite: n[7]!,
      iosInProgress: n[8]!,
      msecTotal: n[9]!,
      msecWeightedTotal: n[10]!,
    });
  }
  return out;
}

/**
 * Whether a disk is reported: whole disks only, as Falcon's agent (`sdX`, `vdX`, `xvdX`), and the
 * names it predates (`nvme0n1`, `hdX`, `mmcblk0`); not partitions, loops, zram or device-mapper.
 */
export function reportedDisk(device: string): boolean {
  return /^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/.test(device);
}

/** A mounted filesystem as /proc/mounts lists it. */
export interface Mount {
  spec: string;
  file: string;
  fstype: string;
}

/** Falcon's ignored specs. */
const SPEC_IGNORED = new Set(['none', 'nodev']);
/**
 * Falcon's ignored types (cgroup, debugfs, devpts, devtmpfs, rpc_pipefs, rootfs, nfs4 and fuse.*),
 * and the pseudo and memory filesystems it predates or does not see as disks: tmpfs holds no data
 * that outlives a boot, and a network filesystem's statfs can hang the collection.
 */
const TYPE_IGNORED = new Set([
  'cgroup',
  'cgroup2',
  'debugfs',
  'devpts',
  'devtmpfs',
  'rpc_pipefs',
  'rootfs',
  'nfs',
  'nfs4',
  'cifs',
  'smb3',
  'proc',
  'sysfs',
  'securityfs',
  'pstore',
  'bpf',
  'tracefs',
  'configfs',
  'mqueue',
  'hugetlbfs',
  'autofs',
  'binfmt_misc',
  'efivarfs',
  'squashfs',
  'nsfs',
  'ramfs',
  'tmpfs',
]);
/** Falcon's ignored mount points (and everything beneath them). */
const FILE_PREFIX_IGNORED = ['/sys', '/net', '/misc', '/proc', '/lib', '/dev', '/run'];

/** `\040` and friends, as /proc/mounts escapes spaces, tabs, newlines and backslashes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * /proc/mounts reduced to the real filesystems, as Falcon's agent filters them: ignored specs,
 * types (fuse.* too) and mount points dropped, and a device mounted twice (a bind mount) kept once,
 * at its shortest mount point.
 */
export function realMounts(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const spec = unescapeMount(f[0]!);
    const file = unescapeMount(f[1]!);
    const fstype = f[2]!;
    if (SPEC_IGNORED.has(spec) || TYPE_IGNORED.has(fstype) || fstype.startsWith('fuse')) continue;
    // a container's own root is an overlay; the overlays beneath /var/lib/docker are its images
    if (fstype === 'overlay' && file !== '/') continue;
    if (FILE_PREFIX_IGNORED.some((p) => file === p || file.startsWith(`${p}/`))) continue;
    if (spec.startsWith('/dev')) {
      const same = out.find((m) => m.spec === spec);
      if (same) {
        if (file.length < same.file.length) same.file = file;
        continue;
      }
    }
    out.push({ spec, file, fstype });
  }
  return out;
}

/** /proc/sys/fs/file-nr: the file handles allocated. */
export function parseFileNr(text: string): number | undefined {
  const f = text.trim().split(/\s+/);
  const n = Number(f[0]);
  return f.length === 3 && Number.isFinite(n) ? n : undefined;
}
