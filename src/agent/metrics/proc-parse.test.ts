import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
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

test('/proc/stat: the cpu line in ticks (the total sums every field, as Falcon sums it) and ctxt', () => {
  const cpu = parseProcStat('cpu  10 1 5 80 2 0 1 1 0 0\ncpu0 5 0 2 40 1 0 0 0 0 0\nintr 1 2\nctxt 12345\nbtime 1\n');
  assert.deepEqual(cpu, {
    user: 10,
    nice: 1,
    system: 5,
    idle: 80,
    iowait: 2,
    irq: 0,
    softirq: 1,
    steal: 1,
    guest: 0,
    total: 100,
    switches: 12345,
  });
  assert.equal(parseProcStat('intr 1\n'), undefined);
});

test('/proc/meminfo in bytes; /proc/loadavg; /proc/sys/fs/file-nr', () => {
  const m = parseMeminfo('MemTotal:       16000 kB\nMemFree:  1000 kB\nHugePages_Total:       0\nActive(anon):  5 kB\n');
  assert.equal(m.get('MemTotal'), 16000 * 1024);
  assert.equal(m.get('MemFree'), 1000 * 1024);
  assert.equal(m.get('HugePages_Total'), 0, 'a count without a unit stays a count');
  assert.equal(m.get('Active(anon)'), 5 * 1024);
  assert.deepEqual(parseLoadavg('0.52 0.58 0.59 2/1023 12345\n'), [0.52, 0.58, 0.59]);
  assert.equal(parseLoadavg('x'), undefined);
  assert.equal(parseFileNr('1088\t0\t9223372036854775807\n'), 1088);
});

test('/proc/net/dev: each interface with 16 counters; which are reported', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '  eth0: 1990350    2838    1    2    0     0          0         0   401351    2218    3    4    0     0       0          0',
    '    lo:   26105     286    0    0    0     0          0         0    26105     286    0    0    0     0       0          0',
  ].join('\n');
  assert.deepEqual(parseNetDev(text)[0], {
    iface: 'eth0',
    inBytes: 1990350,
    inPackets: 2838,
    inErrors: 1,
    inDropped: 2,
    outBytes: 401351,
    outPackets: 2218,
    outErrors: 3,
    outDropped: 4,
  });
  assert.equal(parseNetDev(text).length, 2);
  assert.equal(reportedIface('lo', false), false);
  assert.equal(reportedIface('eth0', false), true, "Falcon's default prefix, even as a container's veth");
  assert.equal(reportedIface('em1', false), true);
  assert.equal(reportedIface('ens3', true), true, 'a device of the machine');
  assert.equal(reportedIface('veth12ab', false), false);
  assert.equal(reportedIface('docker0', false), false);
  assert.equal(reportedIface('bond0', false), true);
});

test('/proc/diskstats: whole disks are reported, not partitions, loops or device-mapper', () => {
  const d = parseDiskstats('   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 0 0 0 0\n   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0\n');
  assert.deepEqual(d[0], {
    device: 'sda',
    readRequests: 1,
    readMerged: 2,
    readSectors: 3,
    msecRead: 4,
    writeRequests: 5,
    writeMerged: 6,
    writeSectors: 7,
    msecWrite: 8,
    iosInProgress: 9,
    msecTotal: 10,
    msecWeightedTotal: 11,
  });
  for (const yes of ['sda', 'vdb', 'xvdf', 'nvme0n1', 'mmcblk0']) assert.ok(reportedDisk(yes), yes);
  for (const no of ['sda1', 'nvme0n1p1', 'loop0', 'dm-0', 'zram0', 'sr0']) assert.ok(!reportedDisk(no), no);
});

test("/proc/mounts reduced to real filesystems, as Falcon's agent filters them; a bind mount counted once", () => {
  const text = [
    'proc /proc proc rw 0 0',
    'sysfs /sys sysfs rw 0 0',
    'devtmpfs /dev devtmpfs rw 0 0',
    'tmpfs /run tmpfs rw 0 0',
    '/dev/sda1 / ext4 rw 0 0',
    '/dev/sdb1 /data\\040disk xfs rw 0 0',
    '/dev/sdb1 /data\\040disk/bind xfs rw 0 0',
    'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
    'server:/x /mnt/nfs nfs4 rw 0 0',
    'sshfs#x /mnt/s fuse.sshfs rw 0 0',
    'overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0',
    'none /mnt/none ext4 rw 0 0',
  ].join('\n');
  assert.deepEqual(realMounts(text), [
    { spec: '/dev/sda1', file: '/', fstype: 'ext4' },
    { spec: '/dev/sdb1', file: '/data disk', fstype: 'xfs' },
  ]);
  assert.deepEqual(realMounts('overlay / overlay rw 0 0'), [{ spec: 'overlay', file: '/', fstype: 'overlay' }], "a container's root");
});

test("this machine's files parse: a cpu line, MemTotal, three loads, interfaces and mounts", () => {
  const cpu = parseProcStat(readFileSync('/proc/stat', 'utf8'));
  assert.ok(cpu && cpu.total > 0 && cpu.switches > 0);
  assert.ok((parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).get('MemTotal') ?? 0) > 0);
  assert.ok(parseLoadavg(readFileSync('/proc/loadavg', 'utf8'))?.every((l) => l >= 0));
  assert.ok(parseNetDev(readFileSync('/proc/net/dev', 'utf8')).some((i) => i.iface === 'lo'));
  const mounts = realMounts(readFileSync('/proc/mounts', 'utf8'));
  assert.ok(mounts.length > 0, 'at least the root filesystem');
  for (const m of mounts) assert.ok(!['proc', 'sysfs', 'tmpfs', 'cgroup', 'devpts'].includes(m.fstype), m.fstype);
  assert.ok((parseFileNr(readFileSync('/proc/sys/fs/file-nr', 'utf8')) ?? 0) > 0);
});
