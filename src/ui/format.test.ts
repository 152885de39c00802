import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ago, confLines, count, duration, firstNames, hostState } from './format.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');

test('ago and duration in the units people read', () => {
  assert.equal(ago(null, T0), 'never');
  assert.equal(ago('2024-01-01T00:00:00Z', T0 + 12_000), '12s ago');
  assert.equal(ago('2024-01-01T00:00:00Z', T0 + 180_000), '3m ago');
  assert.equal(ago('2024-01-01T00:00:00Z', T0 + 5 * 3600_000), '5h ago');
  assert.equal(ago('2024-01-01T00:00:00Z', T0 + 49 * 3600_000), '2d ago');
  assert.equal(ago('2024-01-01T00:00:10Z', T0), '0s ago', 'a clock a little behind the server is not negative');
  assert.equal(duration('2024-01-01T00:00:00Z', '2024-01-01T00:00:45Z', 0), '45s');
  assert.equal(duration('2024-01-01T00:00:00Z', '2024-01-01T00:02:05Z', 0), '2m 05s');
  assert.equal(duration('2024-01-01T00:00:00Z', null, T0 + 3720_000), '1h 02m');
});

test('host results: state and reason', () => {
  assert.deepEqual(hostState(undefined), { state: 'pending', reason: null });
  assert.deepEqual(hostState('pending'), { state: 'pending', reason: null });
  assert.deepEqual(hostState('succeeded'), { state: 'succeeded', reason: null });
  assert.deepEqual(hostState('failed: exited with code 1'), { state: 'failed', reason: 'exited with code 1' });
  assert.deepEqual(hostState('failed'), { state: 'failed', reason: null });
  assert.deepEqual(hostState('draining'), { state: 'other', reason: 'draining' });
});

test('counts and cluster.conf lines', () => {
  assert.equal(count(1, 'host'), '1 host');
  assert.equal(count(0, 'host'), '0 hosts');
  assert.deepEqual(confLines({ timeout: 300, batch: '10%', hosts: ['a'] }), ['batch: 10%', 'hosts: ["a"]', 'timeout: 300']);
});

test('firstNames: every name of a short list, the first ones and a count of a long one', () => {
  assert.equal(firstNames(['h1', 'h2'], 2), 'h1, h2');
  assert.equal(firstNames(['h1', 'h2', 'h3', 'h4'], 2), 'h1, h2 and 2 more');
  assert.equal(firstNames([], 2), '');
});
