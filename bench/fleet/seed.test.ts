import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_ENV_VARS, seedEnvVars } from './seed.js';

describe("the fleet benchmark's seed", () => {
  it('reads NOOPS_BENCH_FLEET_ENV: unset or empty is none, a count up to the most is taken, anything else is refused', () => {
    assert.equal(seedEnvVars({}), 0);
    assert.equal(seedEnvVars({ NOOPS_BENCH_FLEET_ENV: '' }), 0);
    assert.equal(seedEnvVars({ NOOPS_BENCH_FLEET_ENV: '0' }), 0);
    assert.equal(seedEnvVars({ NOOPS_BENCH_FLEET_ENV: '100' }), 100);
    assert.equal(seedEnvVars({ NOOPS_BENCH_FLEET_ENV: String(MAX_ENV_VARS) }), MAX_ENV_VARS);
    for (const bad of ['-1', '1.5', '1e2', ' 100', 'many', String(MAX_ENV_VARS + 1)])
      assert.throws(() => seedEnvVars({ NOOPS_BENCH_FLEET_ENV: bad }), /NOOPS_BENCH_FLEET_ENV must be a count/, bad);
  });
});
