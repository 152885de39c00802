import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_LEVELS, Fleet, LEVELS } from './fleet.js';
import { placedHosts, planCluster } from './plan.js';
import { GiB, placeAsk, schedHost } from './testing.js';
import type { SchedHost } from './types.js';

test('apply updates allocations, jobs, ports and the host level in place', () => {
  const fleet = new Fleet([schedHost('a')]);
  const ask = placeAsk('web.prod', { count: 1, cpu: 2, memory: 4 * GiB, distinctHosts: true }, { job: 'web', ports: [8080] });
  assert.ok(fleet.level(0) < EMPTY_LEVELS, 'an empty host sits below the used ones');
  const plan = planCluster(fleet, ask);
  fleet.apply(plan, ask);
  const a = fleet.host('a')!;
  assert.deepEqual(a.allocated, { cpu: 2, memory: 4 * GiB, disk: 0 });
  assert.deepEqual(a.jobs, ['web']);
  assert.deepEqual(a.distinctJobs, ['web']);
  assert.deepEqual(a.ports, [8080]);
  assert.ok(fleet.level(0) >= EMPTY_LEVELS && fleet.level(0) < LEVELS);
  ask.current = placedHosts(plan);
  const down = planCluster(fleet, { ...ask, spec: { ...ask.spec, count: 0 } });
  assert.deepEqual(down.leave, [{ host: 'a', reason: 'scaled down' }]);
  fleet.apply(down, ask);
  assert.deepEqual(a.allocated, { cpu: 0, memory: 0, disk: 0 });
  assert.deepEqual([a.jobs, a.distinctJobs, a.ports], [[], [], []]);
  assert.ok(fleet.level(0) < EMPTY_LEVELS);
});

test('a cluster that must open a new host opens the biggest', () => {
  const fleet = new Fleet([
    schedHost('small'),
    schedHost('big', { capacity: { cpu: 64, memory: 256 * GiB, disk: 0 } }),
    schedHost('mid', { capacity: { cpu: 16, memory: 32 * GiB, disk: 0 } }),
  ]);
  assert.deepEqual(
    planCluster(fleet, placeAsk('web', { count: 2, distinctHosts: true })).add.map((a) => a.host),
    ['big', 'mid'],
  );
  // without distinct hosts the biggest takes both (replicas)
  assert.deepEqual(planCluster(fleet, placeAsk('web', { count: 2 })).placements, [{ host: 'big', count: 2 }]);
});

test('hosts down, draining or without a capacity are not in the levels the search reads', () => {
  const fleet = new Fleet([
    schedHost('a', { up: false }),
    schedHost('b', { draining: true }),
    schedHost('c', { capacity: { cpu: 0, memory: 0, disk: 0 } }),
    schedHost('d'),
  ]);
  assert.deepEqual([...fleet.usable], [0, 0, 0, 1]);
  assert.deepEqual(fleet.levels.flat(), [3]);
});

test('the search does not look at every host: full hosts are skipped by their level bounds', () => {
  let looks = 0;
  const counted = (h: SchedHost): SchedHost => {
    const up = h.up;
    Object.defineProperty(h, 'up', {
      get: () => {
        looks++;
        return up;
      },
    });
    return h;
  };
  const hosts: SchedHost[] = [];
  for (let i = 0; i < 1000; i++) hosts.push(counted(schedHost(`full${i}`, { allocated: { cpu: 4, memory: 8 * GiB, disk: 0 } })));
  for (let i = 0; i < 10; i++) hosts.push(counted(schedHost(`free${i}`)));
  const fleet = new Fleet(hosts);
  looks = 0;
  const plan = planCluster(fleet, placeAsk('web', { count: 2 }));
  assert.equal(plan.add.length, 2);
  assert.ok(plan.add.every((a) => a.host.startsWith('free')));
  assert.ok(looks <= 12, `looked at ${looks} hosts`);
});

test('a host is looked at most once per plan, however many instances it places', () => {
  const hosts = Array.from({ length: 100 }, (_, i) => schedHost(`h${i}`));
  const fleet = new Fleet(hosts);
  const plan = planCluster(fleet, placeAsk('web', { count: 150, distinctHosts: true }));
  assert.equal(plan.add.length, 100);
  assert.equal(new Set(plan.add.map((a) => a.host)).size, 100);
  assert.equal(plan.unplaced, 50);
  // with replicas (4 cores of 1 each per host) a host is chosen again while one more fits, never looked up again
  const packed = planCluster(new Fleet(Array.from({ length: 100 }, (_, i) => schedHost(`h${i}`))), placeAsk('web', { count: 450 }));
  assert.equal(packed.add.length, 400);
  assert.equal(packed.placements.length, 100);
  assert.ok(packed.placements.every((p) => p.count === 4));
  assert.equal(packed.unplaced, 50);
});
