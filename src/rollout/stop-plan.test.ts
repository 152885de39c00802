import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeStops, stopPlan } from './stop-plan.js';

const runs = (...pairs: [string, string][]) => pairs.map(([host, version]) => ({ host, version }));

test('a host taken out of the cluster stops what the cluster ran there', () => {
  assert.deepEqual(stopPlan('c', ['h1'], runs(['h1', 'v1'], ['h2', 'v1'])), [{ host: 'h2', tag: 'c', version: 'v1' }]);
});

test('hosts kept, added or that run nothing of the cluster stop nothing', () => {
  assert.deepEqual(stopPlan('c', ['h1', 'h2', 'h3'], runs(['h1', 'v1'], ['h2', 'v2'])), []);
  assert.deepEqual(stopPlan('c', ['h3'], []), [], 'a cluster never deployed');
});

test('a host dropped earlier that still runs the cluster is in the plan, sorted by host', () => {
  assert.deepEqual(stopPlan('c', ['h2'], runs(['h3', 'v2'], ['h1', 'v1'], ['h2', 'v2'])), [
    { host: 'h1', tag: 'c', version: 'v1' },
    { host: 'h3', tag: 'c', version: 'v2' },
  ]);
});

test('the plan in words', () => {
  assert.equal(describeStops(stopPlan('c', [], runs(['h1', 'v1'], ['h2', 'v2']))), 'h1: c (v1); h2: c (v2)');
});
