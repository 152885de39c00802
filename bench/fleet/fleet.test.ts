import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workersFor } from './fleet.js';

test("the simulated agents' workers: one per 2,500 agents, and at least one per core (up to 4), never more than agents", () => {
  assert.equal(workersFor(1000, undefined, 2), 2, 'two cores: both carry agents');
  assert.equal(workersFor(1000, undefined, 1), 1);
  assert.equal(workersFor(100, undefined, 32), 4, 'many cores: four at most for the cores alone');
  assert.equal(workersFor(3, undefined, 8), 3, 'never more workers than agents');
  assert.equal(workersFor(10_000, undefined, 2), 4, 'large fleets: one per 2,500');
  assert.equal(workersFor(12_000, undefined, 2), 5);
  assert.equal(workersFor(1000, '3', 2), 3, 'NOOPS_BENCH_FLEET_WORKERS sets it');
  assert.equal(workersFor(2, '3', 2), 2, 'asked for more than agents: one each');
  assert.equal(workersFor(1000, 'many', 2), 2, 'not a number: the default');
});
