import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet } from './fleet.js';
import { planCluster } from './plan.js';
import { placedInstances } from './replicas.js';
import { GiB, placeAsk, schedHost } from './testing.js';
import type { SchedHost } from './types.js';

const names = (xs: { host: string }[]): string[] => xs.map((x) => x.host).sort();

test('places count instances, one per host with distinct hosts, and records the plan in the fleet', () => {
  const fleet = new Fleet([schedHost('a'), schedHost('b'), schedHost('c')]);
  const ask = placeAsk('web', { count: 2, cpu: 1, memory: GiB, distinctHosts: true });
  const plan = planCluster(fleet, ask);
  assert.equal(plan.tag, 'web');
  assert.equal(plan.add.length, 2);
  assert.equal(new Set(names(plan.add)).size, 2);
  assert.deepEqual(plan.keep, []);
  assert.deepEqual(plan.leave, []);
  assert.equal(plan.unplaced, 0);
  assert.deepEqual(
    plan.placements.map((p) => p.count),
    [1, 1],
  );
  fleet.apply(plan, ask);
  for (const h of names(plan.add)) assert.deepEqual(fleet.host(h)!.allocated, { cpu: 1, memory: GiB, disk: 0 });
  assert.deepEqual(fleet.host(h3(plan.add))!.jobs, []);
});

/** The one host of a, b, c a plan did not use. */
function h3(add: { host: string }[]): string {
  return ['a', 'b', 'c'].find((h) => !add.some((x) => x.host === h))!;
}

test('bin-packing puts a new instance on the fullest host that fits', () => {
  const fleet = new Fleet([
    schedHost('empty'),
    schedHost('half', { allocated: { cpu: 2, memory: 4 * GiB, disk: 0 } }),
    schedHost('full', { allocated: { cpu: 4, memory: 8 * GiB, disk: 0 } }),
  ]);
  const plan = planCluster(fleet, placeAsk('web', { count: 1 }));
  assert.deepEqual(names(plan.add), ['half']);
});

test('stability: current hosts that still fit are kept, the rest leave with their reason', () => {
  const busy = { cpu: 1, memory: GiB, disk: 0 };
  const fleet = new Fleet([
    schedHost('ok', { allocated: { ...busy } }),
    schedHost('down', { allocated: { ...busy }, up: false }),
    schedHost('drained', { allocated: { ...busy }, draining: true }),
    schedHost('small', { capacity: { cpu: 0.5, memory: 8 * GiB, disk: 0 }, allocated: { ...busy } }),
    schedHost('free1'),
    schedHost('free2'),
    schedHost('free3'),
  ]);
  // distinct hosts: one instance per host (else the kept host would take the new ones as replicas)
  const ask = placeAsk('web', { count: 4, distinctHosts: true }, { current: ['ok', 'down', 'drained', 'small', 'gone'] });
  const plan = planCluster(fleet, ask);
  assert.deepEqual(plan.keep, ['ok']);
  assert.deepEqual(plan.leave, [
    { host: 'down', reason: 'host down' },
    { host: 'drained', reason: 'draining' },
    { host: 'small', reason: 'no longer fits: cpu: 1 asked, 0.5 free' },
    { host: 'gone', reason: 'host gone' },
  ]);
  assert.deepEqual(names(plan.add), ['free1', 'free2', 'free3']);
  assert.equal(plan.unplaced, 0);
  fleet.apply(plan, ask);
  assert.deepEqual(fleet.host('down')!.allocated, { cpu: 0, memory: 0, disk: 0 });
  assert.deepEqual(fleet.host('ok')!.allocated, busy);
});

test('scale down under bin-packing removes the instances on the emptiest hosts', () => {
  const fleet = new Fleet([
    schedHost('a', { allocated: { cpu: 1, memory: GiB, disk: 0 } }),
    schedHost('b', { allocated: { cpu: 3, memory: 6 * GiB, disk: 0 } }),
    schedHost('c', { allocated: { cpu: 2, memory: 2 * GiB, disk: 0 } }),
  ]);
  const plan = planCluster(fleet, placeAsk('web', { count: 1 }, { current: ['a', 'b', 'c'] }));
  assert.deepEqual(plan.keep, ['b']);
  assert.deepEqual(plan.leave, [
    { host: 'a', reason: 'scaled down' },
    { host: 'c', reason: 'scaled down' },
  ]);
  assert.deepEqual(plan.add, []);
});

test('scale down under spread removes from the most crowded label value', () => {
  const hosts = ['a1', 'a2', 'a3', 'b1'].map((n) => schedHost(n, { labels: { rack: n[0]! }, allocated: { cpu: 1, memory: GiB, disk: 0 } }));
  const fleet = new Fleet(hosts);
  const plan = planCluster(fleet, placeAsk('web', { count: 2, spread: 'rack' }, { current: ['a1', 'a2', 'a3', 'b1'] }));
  assert.deepEqual(plan.keep.length, 2);
  assert.ok(plan.keep.includes('b1'));
  assert.equal(names(plan.leave).filter((h) => h.startsWith('a')).length, 2);
});

test('spread over a label evens out the values, kept instances counted', () => {
  const hosts: SchedHost[] = [];
  for (const rack of ['r1', 'r2', 'r3']) for (let i = 0; i < 4; i++) hosts.push(schedHost(`${rack}-${i}`, { labels: { rack } }));
  hosts[0]!.allocated = { cpu: 1, memory: GiB, disk: 0 };
  hosts[1]!.allocated = { cpu: 1, memory: GiB, disk: 0 };
  const fleet = new Fleet(hosts);
  const plan = planCluster(fleet, placeAsk('web', { count: 6, spread: 'rack' }, { current: ['r1-0', 'r1-1'] }));
  const perRack = new Map<string, number>();
  for (const h of placedInstances(plan)) perRack.set(h.slice(0, 2), (perRack.get(h.slice(0, 2)) ?? 0) + 1);
  assert.deepEqual([...perRack.entries()].sort(), [
    ['r1', 2],
    ['r2', 2],
    ['r3', 2],
  ]);
  assert.ok(plan.add.every((a) => a.reason.startsWith('spread over rack: rack=')));
});

test('constraints, distinct hosts and ports leave hosts out; unplaced counts what no host takes, and filtered says why', () => {
  const fleet = new Fleet([
    schedHost('r3', { labels: { rack: 'r3' } }),
    schedHost('other-job', { labels: { rack: 'r1' }, jobs: ['web'] }),
    schedHost('port', { labels: { rack: 'r1' }, ports: [8080] }),
    schedHost('tiny', { labels: { rack: 'r1' }, capacity: { cpu: 4, memory: 100 * 2 ** 20, disk: 0 } }),
    schedHost('good', { labels: { rack: 'r1' } }),
  ]);
  const ask = placeAsk(
    'web.prod',
    { count: 2, memory: 256 * 2 ** 20, constraints: [{ label: 'rack', op: '!=', value: 'r3' }], distinctHosts: true },
    { job: 'web', ports: [8080] },
  );
  const plan = planCluster(fleet, ask);
  assert.deepEqual(names(plan.add), ['good']);
  assert.equal(plan.unplaced, 1);
  assert.deepEqual(
    [...plan.filtered].sort((a, b) => a.host.localeCompare(b.host)),
    [
      { host: 'other-job', reason: 'distinct hosts: another cluster of web runs here' },
      { host: 'port', reason: 'port 8080 taken' },
      { host: 'r3', reason: 'constraint rack!=r3' },
      { host: 'tiny', reason: 'memory: 256M asked, 100M free' },
    ],
  );
});

test('an = constraint draws its candidates from the hosts with that label value', () => {
  const hosts = Array.from({ length: 20 }, (_, i) => schedHost(`h${i}`, { labels: { zone: i % 2 === 0 ? 'a' : 'b' } }));
  const fleet = new Fleet(hosts);
  const zoneB = [{ label: 'zone', op: '=' as const, value: 'b' }];
  const plan = planCluster(fleet, placeAsk('web', { count: 10, constraints: zoneB, distinctHosts: true }));
  assert.equal(plan.add.length, 10);
  assert.ok(plan.add.every((a) => fleet.host(a.host)!.labels.zone === 'b'));
  assert.equal(planCluster(fleet, placeAsk('web', { count: 11, constraints: zoneB, distinctHosts: true })).unplaced, 1);
  // replicas: 4 per host of zone b, the 41st is unplaced
  const packed = planCluster(fleet, placeAsk('web', { count: 41, constraints: zoneB }));
  assert.equal(packed.unplaced, 1);
  assert.ok(packed.placements.every((p) => fleet.host(p.host)!.labels.zone === 'b' && p.count === 4));
});

test('maxNew caps the new instances; the rest are deferred, not unplaced', () => {
  const fleet = new Fleet(['a', 'b', 'c', 'd'].map((n) => schedHost(n)));
  const plan = planCluster(fleet, placeAsk('web', { count: 4 }), { maxNew: 1 });
  assert.equal(plan.add.length, 1);
  assert.equal(plan.deferred, 3);
  assert.equal(plan.unplaced, 0);
});

test('explain names every host left out; without it only what the search met', () => {
  const fleet = new Fleet([schedHost('a'), schedHost('b', { up: false }), schedHost('c', { draining: true })]);
  const ask = placeAsk('web', { count: 1 });
  assert.deepEqual(planCluster(fleet, ask).filtered, []);
  assert.deepEqual(planCluster(fleet, ask, { explain: true }).filtered, [
    { host: 'b', reason: 'down' },
    { host: 'c', reason: 'draining' },
  ]);
});

test('placing cluster after cluster packs hosts and never overcommits', () => {
  const hosts = Array.from({ length: 50 }, (_, i) => schedHost(`h${i}`));
  const fleet = new Fleet(hosts);
  for (let c = 0; c < 40; c++) {
    const ask = placeAsk(`c${c}`, { count: 5, cpu: 0.5, memory: 512 * 2 ** 20 });
    const plan = planCluster(fleet, ask);
    assert.equal(plan.unplaced, 0);
    fleet.apply(plan, ask);
  }
  const used = hosts.filter((h) => h.allocated.cpu > 0).length;
  for (const h of hosts) assert.ok(h.allocated.cpu <= h.capacity.cpu && h.allocated.memory <= h.capacity.memory);
  // 40 clusters x 5 x 0.5 cores = 100 cores: at least 25 hosts of 4 cores
  assert.ok(used <= 27, `bin-packing used ${used} hosts for a lower bound of 25`);
});

test('an unheard host kept by the migration budget keeps its instance, and no new one lands there', () => {
  const fleet = new Fleet([schedHost('a', { unheard: true }), schedHost('b', { unheard: true }), schedHost('c')]);
  const plan = planCluster(fleet, placeAsk('web', { count: 2, cpu: 1, memory: GiB }, { current: ['a'] }));
  assert.deepEqual(plan.keep, ['a']);
  assert.deepEqual(names(plan.add), ['c']);
  assert.deepEqual(plan.leave, []);
});
