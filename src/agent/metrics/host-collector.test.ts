import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MetricSample } from '../../api/index.js';
import { HostCollector } from './host-collector.js';

const one = (points: MetricSample[], metric: string, tags = ''): MetricSample => {
  const p = points.find((x) => x.metric === metric && x.tags === tags);
  assert.ok(p, `${metric} {${tags}} among ${points.length} points`);
  return p;
};

test("this machine's /proc: Falcon's names, types and tags, sane values; CPU only from the second collection", async () => {
  const c = new HostCollector();
  const t0 = Date.now();
  const first = await c.collect('h1', 60, t0);
  assert.deepEqual(first.errors, []);
  assert.ok(!first.points.some((p) => p.metric.startsWith('cpu.')), 'one sample of /proc/stat is no percentage');
  for (const p of first.points) {
    assert.equal(p.endpoint, 'h1');
    assert.equal(p.step, 60);
    assert.equal(p.timestamp, Math.floor(t0 / 1000));
    assert.ok(Number.isFinite(p.value), p.metric);
  }
  const second = await c.collect('h1', 60, t0 + 1000);
  const points = second.points;

  const cpu = ['idle', 'busy', 'user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'guest'];
  for (const n of cpu) {
    const p = one(points, `cpu.${n}`);
    assert.equal(p.counterType, 'GAUGE');
    assert.ok(p.value >= 0 && p.value <= 100, `cpu.${n} = ${p.value}`);
  }
  assert.ok(Math.abs(one(points, 'cpu.idle').value + one(points, 'cpu.busy').value - 100) < 0.01);
  assert.equal(one(points, 'cpu.switches').counterType, 'COUNTER');

  const total = one(points, 'mem.memtotal').value;
  assert.ok(total > 0);
  assert.ok(Math.abs(one(points, 'mem.memused').value + one(points, 'mem.memfree').value - total) < 1);
  for (const n of ['memfree.percent', 'memused.percent', 'swapfree.percent', 'swapused.percent']) {
    const v = one(points, `mem.${n}`).value;
    assert.ok(v >= 0 && v <= 100, `mem.${n} = ${v}`);
  }
  for (const n of ['swaptotal', 'swapused', 'swapfree']) one(points, `mem.${n}`);

  for (const n of ['1min', '5min', '15min']) assert.ok(one(points, `load.${n}`).value >= 0);
  assert.ok(one(points, 'kernel.maxfiles').value > one(points, 'kernel.files.allocated').value);
  one(points, 'kernel.files.left');

  const df = points.filter((p) => p.metric === 'df.bytes.used.percent');
  assert.ok(df.length > 0, 'at least one real filesystem');
  for (const p of df) {
    assert.match(p.tags, /^mount=\/[^,]*,fstype=\w+$/);
    assert.ok(p.value >= 0 && p.value <= 100);
    for (const n of ['bytes.total', 'bytes.used', 'bytes.free', 'bytes.free.percent', 'inodes.total', 'inodes.used', 'inodes.free']) {
      assert.equal(one(points, `df.${n}`, p.tags).counterType, 'GAUGE');
    }
    const inodes = one(points, 'df.inodes.used.percent', p.tags).value + one(points, 'df.inodes.free.percent', p.tags).value;
    assert.ok(Math.abs(inodes - 100) < 0.01);
  }

  const net = points.filter((p) => p.metric.startsWith('net.if.'));
  assert.ok(!net.some((p) => p.tags === 'iface=lo'), 'loopback is not reported');
  for (const p of net) {
    assert.equal(p.counterType, 'COUNTER', p.metric);
    assert.match(p.tags, /^iface=\S+$/);
    assert.ok(p.value >= 0);
  }
  for (const iface of new Set(net.map((p) => p.tags)))
    for (const n of ['in.bytes', 'out.bytes', 'in.packets', 'out.packets', 'in.errors', 'out.errors', 'in.dropped', 'out.dropped'])
      one(points, `net.if.${n}`, iface);

  for (const p of points.filter((x) => x.metric.startsWith('disk.io.'))) {
    assert.match(p.tags, /^device=\w+$/);
    const rate = ['read_bytes', 'write_bytes', 'avgrq_sz', 'avgqu-sz', 'await', 'svctm', 'util'].includes(p.metric.slice(8));
    assert.equal(p.counterType, rate ? 'GAUGE' : 'COUNTER', p.metric);
    if (p.metric === 'disk.io.util') assert.ok(p.value >= 0 && p.value <= 100);
  }
  const keys = points.map((p) => `${p.metric}|${p.tags}`);
  assert.equal(new Set(keys).size, keys.length, 'one point per series');
});

/** A /proc of our own: the CPU and disk figures between two collections are exact. */
function fakeProc(dir: string, cpu: string, disk: string): void {
  const files: Record<string, string> = {
    stat: `cpu  ${cpu}\nctxt 100\n`,
    meminfo: 'MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 100 kB\nCached: 200 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n',
    loadavg: '1.5 1.0 0.5 1/100 42\n',
    'sys/fs/file-max': '1000\n',
    'sys/fs/file-nr': '10\t0\t1000\n',
    'sys/kernel/pid_max': '32768\n',
    mounts: '',
    'net/dev': 'x\ny\n  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n',
    diskstats: `   8       0 sda ${disk} 0 0 0 0\n`,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

test("the CPU percentages and the disk's figures are the change between two collections (Falcon's arithmetic)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-proc-'));
  try {
    const c = new HostCollector({ proc: dir, sys: join(dir, 'no-sys') });
    fakeProc(dir, '100 0 100 800 0 0 0 0 0 0', '10 0 100 50 10 0 100 50 0 100 200');
    await c.collect('h', 10, 10_000);
    fakeProc(dir, '130 0 110 850 10 0 0 0 0 0', '20 0 300 60 30 0 500 90 1 600 1200');
    const { points, errors } = await c.collect('h', 10, 20_000);
    assert.deepEqual(errors, []);
    const v = (m: string, tags = ''): number => one(points, m, tags).value;
    // 100 ticks passed: 30 user, 10 system, 50 idle, 10 iowait
    assert.deepEqual([v('cpu.user'), v('cpu.system'), v('cpu.idle'), v('cpu.iowait'), v('cpu.busy')], [30, 10, 50, 10, 50]);
    assert.equal(v('mem.memfree'), 400 * 1024, 'MemFree + Buffers + Cached');
    assert.equal(v('mem.memused.percent'), 60);
    assert.equal(v('mem.swapused.percent'), 0, 'no swap: 0, not NaN');
    assert.equal(v('net.if.in.bytes', 'iface=eth0'), 1);
    const sda = 'device=sda';
    // 30 ios (10 reads, 20 writes), 600 sectors, 50 ms of reading and writing, 500 ms busy of 10 s
    assert.equal(v('disk.io.read_bytes', sda), 200 * 512);
    assert.equal(v('disk.io.write_bytes', sda), 400 * 512);
    assert.equal(v('disk.io.avgrq_sz', sda), 20);
    assert.equal(v('disk.io.await', sda), 1.667);
    assert.equal(v('disk.io.util', sda), 5);
    assert.equal(v('disk.io.avgqu-sz', sda), 0.1);
    assert.equal(one(points, 'disk.io.read_requests', sda).counterType, 'COUNTER');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file or a mount that cannot be read is named in errors; the other metrics are still collected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-proc-'));
  try {
    fakeProc(dir, '1 0 1 8 0 0 0 0 0 0', '0 0 0 0 0 0 0 0 0 0 0');
    rmSync(join(dir, 'loadavg'));
    writeFileSync(join(dir, 'mounts'), '/dev/sdz1 /no-such-mount-here ext4 rw 0 0\n/dev/sdy1 / ext4 rw 0 0\n');
    const { points, errors } = await new HostCollector({ proc: dir }).collect('h', 60, 1000);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0]!, /^load: .*loadavg/);
    assert.match(errors[1]!, /^df: statfs failed for \/no-such-mount-here: /);
    one(points, 'mem.memtotal');
    one(points, 'df.bytes.used.percent', 'mount=/,fstype=ext4'); // the mount that could be read
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
