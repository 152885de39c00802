import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { HostCapacity } from '../api/index.js';
import { CapacityGauge, countFreePorts, localPortsOf, measureCapacity, parsePortRange, withOverride } from './capacity.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:8000 0100007F:1F91 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:8001 00000000000000000000000000000000:0000 0A
`;

test('the ports sockets hold, from /proc/net/tcp and tcp6', () => {
  assert.deepEqual(localPortsOf(TCP), [8080, 32768, 32768]);
  assert.deepEqual(localPortsOf(TCP6), [32769]);
  assert.deepEqual(localPortsOf(''), []);
  assert.deepEqual(localPortsOf(`${TCP}garbage\n   9: nothing here\n  10: 0100007F:0050`), [8080, 32768, 32768], 'only whole socket lines');
  // past 9,999 sockets the number fills its column (`%4d:`); tcp6 addresses are 32 hex digits
  assert.deepEqual(
    localPortsOf(`${TCP6}12345: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A\n`),
    [32769, 8080],
  );
});

test('the ephemeral range, and its free ports to the hundred below', () => {
  assert.deepEqual(parsePortRange('32768\t60999\n'), [32768, 60999]);
  assert.equal(parsePortRange('garbage'), undefined);
  assert.equal(parsePortRange('9 5'), undefined);
  // 28232 ports, two distinct of them held (8080 is outside the range): 28230, reported as 28200
  assert.equal(countFreePorts([32768, 60999], [...localPortsOf(TCP), ...localPortsOf(TCP6)]), 28200);
  assert.equal(countFreePorts([1000, 1049], [1000]), 0, 'fewer than a hundred free reads as none');
});

test('the measure: cores, memory, the disk of the data folder, free ports; overrides replace what they name', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-cap-'));
  try {
    const m = await measureCapacity(root);
    assert.equal(m.cpu, availableParallelism());
    assert.equal(m.memory, totalmem());
    assert.ok(m.disk > 0, 'the file system of the data folder has a size');
    assert.ok(Number.isInteger(m.freePorts) && m.freePorts % 100 === 0 && m.freePorts <= 65535);
    assert.deepEqual(withOverride(m, { cpu: 2, memory: 1024 }), { ...m, cpu: 2, memory: 1024 });
    assert.deepEqual(withOverride(m, undefined), m);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the gauge measures on start and again on its interval, with the overrides; a failed measure keeps the last', async () => {
  let n = 0;
  let fail = false;
  const logs: string[] = [];
  const measure = async (): Promise<HostCapacity> => {
    if (fail) throw new Error('statfs broke');
    n++;
    return { cpu: n, memory: 100, disk: 200, freePorts: 300 };
  };
  const gauge = new CapacityGauge({ root: '/nowhere', override: { memory: 5 }, everyMs: 5, measure, log: (l) => logs.push(l) });
  assert.equal(gauge.current(), undefined);
  await gauge.start();
  try {
    assert.deepEqual(gauge.current(), { cpu: 1, memory: 5, disk: 200, freePorts: 300 });
    const deadline = Date.now() + 5000;
    while (gauge.current()!.cpu < 2) {
      assert.ok(Date.now() < deadline, 'measured again within 5 s');
      await new Promise((r) => setImmediate(r));
    }
    fail = true;
    while (logs.length === 0) {
      assert.ok(Date.now() < deadline, 'the failure logged within 5 s');
      await new Promise((r) => setImmediate(r));
    }
    assert.match(logs[0]!, /could not measure the host: statfs broke/);
    assert.ok(gauge.current()!.cpu >= 2, 'the last measure stays');
  } finally {
    gauge.stop();
  }
});
