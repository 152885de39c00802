import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet } from './fleet.js';
import { planCluster } from './plan.js';
import { placedInstances } from './replicas.js';
import { GiB, placeAsk, schedHost } from './testing.js';

const busy = (n: number) => ({ cpu: n, memory: n * GiB, disk: 0 });

test('replicas: a count above one host fits there as several instances, and apply takes each', () => {
  const fleet = new Fleet([schedHost('a')]);
  const ask = placeAsk('web', { count: 3 });
  const plan = planCluster(fleet, ask);
  assert.deepEqual(plan.placements, [{ host: 'a', count: 3 }]);
  assert.deepEqual(plan.add, [
    { host: 'a', reason: 'bin-packing' },
    { host: 'a', reason: 'bin-packing' },
    { host: 'a', reason: 'bin-packing' },
  ]);
  assert.equal(plan.unplaced, 0);
  assert.deepEqual(placedInstances(plan), ['a', 'a', 'a']);
  fleet.apply(plan, ask);
  assert.deepEqual(fleet.host('a')!.allocated, busy(3));
  // planned again from there: nothing changes
  const again = planCluster(fleet, { ...ask, current: placedInstances(plan) });
  assert.deepEqual([again.placements, again.keep, again.add, again.leave], [[{ host: 'a', count: 3 }], ['a', 'a', 'a'], [], []]);
});

test('replicas: a host takes instances while cores and memory allow, then the next host', () => {
  const fleet = new Fleet([schedHost('a'), schedHost('b')]);
  const plan = planCluster(fleet, placeAsk('web', { count: 3, cpu: 1.5 }));
  assert.deepEqual(plan.placements, [
    { host: 'a', count: 2 },
    { host: 'b', count: 1 },
  ]);
  const tight = planCluster(new Fleet([schedHost('a')]), placeAsk('web', { count: 3, cpu: 1.5 }));
  assert.deepEqual(tight.placements, [{ host: 'a', count: 2 }]);
  assert.equal(tight.unplaced, 1);
  assert.deepEqual(tight.filtered, [{ host: 'a', reason: 'cpu: 1.5 asked, 1 free' }]);
});

test('replicas: a cluster takes the used hosts with room one instance each, then replicas, and an empty host only after both', () => {
  // a and b run another cluster; c and d are empty
  const fleet = new Fleet([schedHost('a', { allocated: busy(1) }), schedHost('b', { allocated: busy(1) }), schedHost('c'), schedHost('d')]);
  const three = planCluster(fleet, placeAsk('web', { count: 3 }));
  assert.deepEqual(
    [...three.placements].sort((x, y) => x.host.localeCompare(y.host)),
    [
      { host: 'a', count: 2 },
      { host: 'b', count: 1 },
    ],
    'a and b first, then a second instance on a used host rather than opening c',
  );
  // a and b hold 3 more at most each (4 cores): the 7th instance opens an empty host
  const seven = planCluster(fleet, placeAsk('web', { count: 7 }));
  const counts = Object.fromEntries(seven.placements.map((p) => [p.host, p.count]));
  assert.deepEqual([counts.a, counts.b], [3, 3]);
  assert.equal(seven.placements.length, 3, 'one empty host opened (c or d: the same size)');
  assert.equal((counts.c ?? 0) + (counts.d ?? 0), 1);
});

test("replicas: under spread, a value's used hosts take one instance each before one takes a second", () => {
  const fleet = new Fleet([
    schedHost('a1', { labels: { rack: 'r1' }, allocated: busy(1) }),
    schedHost('a2', { labels: { rack: 'r1' }, allocated: busy(1) }),
    schedHost('b1', { labels: { rack: 'r2' }, allocated: busy(1) }),
    schedHost('b2', { labels: { rack: 'r2' } }),
  ]);
  const plan = planCluster(fleet, placeAsk('web', { count: 4, spread: 'rack' }));
  assert.deepEqual(
    [...plan.placements].sort((x, y) => x.host.localeCompare(y.host)).map((p) => [p.host, p.count]),
    [
      ['a1', 1],
      ['a2', 1],
      ['b1', 2],
    ],
    'r1: its two used hosts; r2: its used host twice rather than the empty b2',
  );
});

test('replicas: a fixed port runs one instance per host, and the plan says why the rest stay unplaced', () => {
  const fleet = new Fleet([schedHost('a')]);
  const plan = planCluster(fleet, placeAsk('web', { count: 3 }, { ports: [8080] }));
  assert.deepEqual(plan.placements, [{ host: 'a', count: 1 }]);
  assert.equal(plan.unplaced, 2);
  assert.deepEqual(plan.filtered, [
    { host: 'a', reason: 'port 8080 taken by an instance of this cluster (a fixed port runs one instance per host)' },
  ]);
});

test('replicas: distinct hosts runs one instance per host', () => {
  const fleet = new Fleet([schedHost('a'), schedHost('b'), schedHost('c')]);
  const plan = planCluster(fleet, placeAsk('web', { count: 2, distinctHosts: true }));
  assert.equal(plan.placements.length, 2);
  assert.ok(plan.placements.every((p) => p.count === 1));
});

test("replicas: a scale up fills the cluster's own host first when it has room", () => {
  const fleet = new Fleet([schedHost('a', { allocated: busy(1) }), schedHost('b')]);
  const plan = planCluster(fleet, placeAsk('web', { count: 3 }, { current: ['a'] }));
  assert.deepEqual(plan.keep, ['a']);
  assert.deepEqual(plan.placements, [{ host: 'a', count: 3 }]);
});

test('replicas: a host holding two instances of a fixed port keeps one; the other leaves, saying why, and lands elsewhere', () => {
  const fleet = new Fleet([schedHost('a', { allocated: busy(2), ports: [8080, 8080], jobs: ['web'] }), schedHost('b')]);
  const ask = placeAsk('web', { count: 2 }, { current: ['a', 'a'], ports: [8080] });
  const plan = planCluster(fleet, ask);
  assert.deepEqual(plan.keep, ['a']);
  assert.deepEqual(plan.leave, [{ host: 'a', reason: 'no longer fits: port 8080 taken' }]);
  assert.deepEqual(plan.placements, [
    { host: 'a', count: 1 },
    { host: 'b', count: 1 },
  ]);
  assert.deepEqual(fleet.host('a')!.allocated, busy(2), 'planning changes nothing');
  assert.deepEqual(fleet.host('a')!.ports, [8080, 8080]);
});

test('replicas: a host whose instances no longer all fit keeps those that do', () => {
  const fleet = new Fleet([schedHost('a', { capacity: { cpu: 2, memory: 8 * GiB, disk: 0 }, allocated: busy(3) }), schedHost('b')]);
  const plan = planCluster(fleet, placeAsk('web', { count: 3 }, { current: ['a', 'a', 'a'] }));
  assert.deepEqual(plan.keep, ['a', 'a']);
  assert.deepEqual(plan.leave, [{ host: 'a', reason: 'no longer fits: cpu: 1 asked, 0 free' }]);
  assert.deepEqual(plan.placements, [
    { host: 'a', count: 2 },
    { host: 'b', count: 1 },
  ]);
});

test('replicas: a scale down takes the instances of the emptiest host first', () => {
  const fleet = new Fleet([schedHost('a', { allocated: busy(3) }), schedHost('b', { allocated: busy(1) })]);
  const plan = planCluster(fleet, placeAsk('web', { count: 2 }, { current: ['a', 'a', 'a', 'b'] }));
  assert.deepEqual(plan.leave, [
    { host: 'b', reason: 'scaled down' },
    { host: 'a', reason: 'scaled down' },
  ]);
  assert.deepEqual(plan.placements, [{ host: 'a', count: 2 }]);
});

test('replicas: spread evens out the label values, several instances on a host of a value', () => {
  const fleet = new Fleet([schedHost('a', { labels: { rack: 'r1' } }), schedHost('b', { labels: { rack: 'r2' } })]);
  const plan = planCluster(fleet, placeAsk('web', { count: 4, spread: 'rack' }));
  assert.deepEqual(
    [...plan.placements].sort((x, y) => x.host.localeCompare(y.host)),
    [
      { host: 'a', count: 2 },
      { host: 'b', count: 2 },
    ],
  );
});
