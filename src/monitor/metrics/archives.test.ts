/** History's choices, pure: rates, the resolution of an answer, re-bucketing, the rollup's window. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARCHIVES, chooseResolution, graphValue, rebucket, rollupWindow } from './archives.js';

test("Falcon's archives: 5 min for 2 days, 20 min for 7 days, 3 h for 766 buckets, 12 h for a year", () => {
  assert.deepEqual(
    ARCHIVES.map((a) => [a.resolution, a.keepSeconds / 86400, a.from]),
    [
      [300, 2, 'raw'],
      [1200, 7, 300],
      [10800, 95.75, 1200],
      [43200, 365, 10800],
    ],
  );
});

test('graphValue: a GAUGE as sent; a counter as its rate per second, none first or after a reset', () => {
  assert.equal(graphValue('GAUGE', -3, 60, undefined), -3);
  assert.equal(graphValue('COUNTER', 100, 60, undefined), null);
  assert.equal(graphValue('COUNTER', 700, 120, { lastTs: 60, lastValue: 100 }), 10);
  assert.equal(graphValue('DERIVE', 50, 120, { lastTs: 60, lastValue: 100 }), null);
  assert.equal(graphValue('DERIVE', 50, 60, { lastTs: 60, lastValue: 10 }), null);
});

test('chooseResolution: raw while fine enough and kept; the finest archive holding the range; what is asked', () => {
  const now = 1_000_000;
  assert.deepEqual(chooseResolution({ from: now - 3600, to: now, step: 60 }, now), { source: 'raw', resolution: 60 });
  // 12 h at a 10 s step is 4,320 points: the 5-minute archive
  assert.deepEqual(chooseResolution({ from: now - 12 * 3600, to: now, step: 10 }, now), { source: 300, resolution: 300 });
  assert.deepEqual(chooseResolution({ from: now - 5 * 86400, to: now, step: 60 }, now), { source: 1200, resolution: 1200 });
  assert.deepEqual(chooseResolution({ from: now - 60 * 86400, to: now, step: 60 }, now), { source: 10800, resolution: 10800 });
  assert.deepEqual(chooseResolution({ from: now - 300 * 86400, to: now, step: 60 }, now), { source: 43200, resolution: 43200 });
  assert.deepEqual(chooseResolution({ from: 0, to: 5000 * 86400, step: 60 }, 5000 * 86400), { source: 43200, resolution: 432000 });
  assert.deepEqual(chooseResolution({ from: 0, to: 10, step: 60, wanted: 60 }, now), { source: 'raw', resolution: 60 });
  assert.deepEqual(chooseResolution({ from: 0, to: 10, step: 60, wanted: 86400 }, now), { source: 43200, resolution: 86400 });
  assert.deepEqual(chooseResolution({ from: 0, to: 10, step: 60, wanted: 120 }, now), { source: 'raw', resolution: 120 });
});

test('rebucket: weighted averages, minima of minima, maxima of maxima, aligned buckets', () => {
  assert.deepEqual(
    rebucket(
      [
        [0, 1, 0, 2],
        [300, 4, 3, 9],
        [600, 10, 10, 10],
      ],
      600,
      [1, 3, 2],
    ),
    [
      [0, 13 / 4, 0, 9],
      [600, 10, 10, 10],
    ],
  );
  assert.deepEqual(rebucket([], 600), []);
});

test('rollupWindow: from the watermark (or as far as the source keeps) to the current bucket included, the last full one again', () => {
  const a = ARCHIVES[0]!;
  assert.deepEqual(rollupWindow(a, undefined, 100_000, 3600), { from: 96_300, to: 100_200 });
  assert.deepEqual(rollupWindow(a, 99_900, 100_000, 3600), { from: 99_600, to: 100_200 });
  assert.deepEqual(rollupWindow(a, 99_000, 100_000, 3600), { from: 99_000, to: 100_200 });
});
