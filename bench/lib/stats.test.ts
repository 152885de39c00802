import { test } from 'node:test';
import assert from 'node:assert/strict';
import { growth, percentile, summarize } from './stats.js';

test('percentile by nearest rank', () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([5, 1, 4, 2, 3], 100), 5);
  assert.equal(percentile([5, 1, 4, 2, 3], 0), 1);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 99), 99);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('summarize rounds and counts', () => {
  assert.deepEqual(summarize([1.04, 2.06, 3]), { n: 3, p50: 2.1, p99: 3, max: 3 });
});

test('growth names the exponent of cost against N', () => {
  assert.deepEqual(
    growth([
      [100, 1],
      [1000, 10],
      [10000, 100],
    ]),
    { exponent: 1, word: 'linear' },
  );
  assert.deepEqual(
    growth([
      [100, 1],
      [10000, 10000],
    ]),
    { exponent: 2, word: 'quadratic or worse' },
  );
  assert.deepEqual(
    growth([
      [100, 5],
      [10000, 5],
    ]),
    { exponent: 0, word: 'flat' },
  );
  assert.equal(growth([[100, 1]]), null);
});
