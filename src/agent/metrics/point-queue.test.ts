import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricSample } from '../../api/index.js';
import { PointQueue } from './point-queue.js';

const point = (value: number): MetricSample => ({
  endpoint: 'h1',
  metric: 'q.len',
  value,
  timestamp: 1_700_000_000 + value,
  step: 60,
  counterType: 'GAUGE',
  tags: '',
});
const values = (points: readonly MetricSample[]): number[] => points.map((p) => p.value);

test('each point leaves once: a batch of the oldest, gone when its report is accepted', () => {
  const q = new PointQueue(100);
  q.push([1, 2, 3, 4, 5].map(point));
  const a = q.take(3, 1e6)!;
  assert.deepEqual(values(a.points), [1, 2, 3]);
  assert.equal(q.take(3, 1e6), undefined, 'one batch out at a time: a second report carries none of them');
  q.push([6].map(point));
  q.settle(a, 'accepted');
  assert.equal(q.size, 3);
  const b = q.take(10, 1e6)!;
  assert.deepEqual(values(b.points), [4, 5, 6]);
  q.settle(b, 'accepted');
  assert.equal(q.size, 0);
  assert.equal(q.take(10, 1e6), undefined);
  assert.equal(q.dropped, 0);
});

test('a failed report keeps its points for the next one, in order', () => {
  const q = new PointQueue(100);
  q.push([1, 2, 3].map(point));
  const a = q.take(2, 1e6)!;
  q.push([4].map(point));
  q.settle(a, 'failed');
  const b = q.take(10, 1e6)!;
  assert.deepEqual(values(b.points), [1, 2, 3, 4], 'sent again, with what came since');
  q.settle(b, 'accepted');
  assert.equal(q.size, 0);
});

test('a full queue drops the oldest and counts them; a batch out loses only what was dropped', () => {
  const q = new PointQueue(4);
  q.push([1, 2, 3, 4, 5, 6].map(point));
  assert.equal(q.dropped, 2);
  assert.deepEqual(values(q.take(10, 1e6)!.points), [3, 4, 5, 6]);
  const q2 = new PointQueue(4);
  q2.push([1, 2, 3].map(point));
  const out = q2.take(2, 1e6)!; // 1, 2
  q2.push([4, 5, 6].map(point)); // 1 and 2 make room
  assert.equal(q2.dropped, 2);
  q2.settle(out, 'accepted');
  assert.deepEqual(values(q2.take(10, 1e6)!.points), [3, 4, 5, 6], 'the accepted batch removed nothing newer');
});

test('a batch refused for its content leaves, counted as dropped; the byte budget cuts a batch (one point at least)', () => {
  const q = new PointQueue(100);
  q.push([1, 2, 3].map(point));
  const a = q.take(10, 260)!; // 126 bytes a point
  assert.deepEqual(values(a.points), [1, 2]);
  q.settle(a, 'drop');
  assert.equal(q.dropped, 2);
  assert.deepEqual(values(q.take(10, 1)!.points), [3], 'one point even over the budget');
});

test('20,000 points and overflow by 100,000 stay fast (a ring, no shifting)', () => {
  const q = new PointQueue(20_000);
  const t0 = performance.now();
  for (let i = 0; i < 120; i++) q.push(Array.from({ length: 1000 }, (_, j) => point(i * 1000 + j)));
  assert.equal(q.size, 20_000);
  assert.equal(q.dropped, 100_000);
  assert.equal(q.take(1, 1e6)!.points[0]!.value, 100_000);
  assert.ok(performance.now() - t0 < 2000);
});
