import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binpack, fullness, spread } from './scorers.js';
import { GiB, placeAsk, schedHost } from './testing.js';

test('fullness: 0 for an empty host, 1 for a full one, rewarding both dimensions full', () => {
  const cap = { cpu: 4, memory: 8 * GiB, disk: 0 };
  assert.equal(fullness(cap, { cpu: 0, memory: 0, disk: 0 }), 0);
  assert.equal(fullness(cap, { cpu: 4, memory: 8 * GiB, disk: 0 }), 1);
  const half = fullness(cap, { cpu: 2, memory: 4 * GiB, disk: 0 });
  const lopsided = fullness(cap, { cpu: 4, memory: 0, disk: 0 });
  assert.ok(half > 0 && half < 1);
  assert.ok(half > lopsided, 'half full in both beats full in one and empty in the other');
});

test('binpack: the fuller the host after placing, the better', () => {
  const ask = placeAsk('web', { cpu: 1, memory: GiB });
  const empty = schedHost('a');
  const busy = schedHost('b', { allocated: { cpu: 2, memory: 4 * GiB, disk: 0 } });
  assert.ok(binpack(busy, ask) > binpack(empty, ask));
  const bigger = schedHost('c', { capacity: { cpu: 16, memory: 64 * GiB, disk: 0 }, allocated: { cpu: 2, memory: 4 * GiB, disk: 0 } });
  assert.ok(binpack(busy, ask) > binpack(bigger, ask), 'the same use counts for more on a smaller host');
});

test('spread: the label value with the fewest instances of the cluster first, hosts without the label last', () => {
  const counts = new Map([
    ['r1', 2],
    ['r2', 0],
  ]);
  const r1 = schedHost('a', { labels: { rack: 'r1' } });
  const r2 = schedHost('b', { labels: { rack: 'r2' } });
  const r3 = schedHost('c', { labels: { rack: 'r3' } });
  const none = schedHost('d');
  assert.equal(spread(r2, 'rack', counts), 1);
  assert.equal(spread(r3, 'rack', counts), 1);
  assert.equal(spread(r1, 'rack', counts), 1 / 3);
  assert.equal(spread(none, 'rack', counts), 0);
});
