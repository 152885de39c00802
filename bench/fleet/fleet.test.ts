import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

test("the workers' agent code: the build in dist/ when asked (as the fleet asks), the sources otherwise", async () => {
  const here = await import('./agent-code.js');
  const { NoopsError: srcError } = await import('../../src/errors/index.js');
  assert.equal(here.AGENT_CODE, 'src');
  assert.ok(new here.NoopsError('NOOPS_E_INPUT', 'x') instanceof srcError, 'the sources: the class the tests check for');
  const probe = [
    "const c = await import('./bench/fleet/agent-code.ts');",
    "const d = await import('./dist/errors/index.js');",
    "console.log(JSON.stringify([c.AGENT_CODE, new c.NoopsError('NOOPS_E_INPUT', 'x') instanceof d.NoopsError, typeof c.Agent]));",
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    cwd: new URL('../../', import.meta.url).pathname,
    env: { ...process.env, NOOPS_BENCH_AGENT_CODE: 'dist' },
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out), ['dist', true, 'function']);
});

test('the steps of a run: the whole plan, or the rollouts, the fan-out or the lean heartbeats alone', async () => {
  const { stepsFor } = await import('./sim-run.js');
  const plan = {
    sizes: [1000, 10_000],
    heartbeatS: 30,
    propagationRuns: 3,
    rollouts: [{ mib: 10, maxHosts: 1000 }],
    batch: '10%',
    leanLoads: [1, 2, 4],
    fanOut: true,
  } as Parameters<typeof stepsFor>[0];
  const whole = stepsFor(plan, 10_000, undefined);
  assert.deepEqual([whole.heartbeatS, whole.leanLoads, whole.fanOut, whole.rollouts, whole.leanS], [30, [1, 2, 4], true, [], undefined]);
  assert.deepEqual(stepsFor(plan, 1000, undefined).leanLoads, [1], 'a smaller fleet than the largest: one lean load');
  const rollouts = stepsFor(plan, 1000, 'rollouts');
  assert.deepEqual([rollouts.heartbeatS, rollouts.leanLoads, rollouts.fanOut, rollouts.rollouts], [0, [], false, [10]]);
  const fanOut = stepsFor(plan, 10_000, 'fanout');
  assert.deepEqual([fanOut.heartbeatS, fanOut.leanLoads, fanOut.fanOut, fanOut.rollouts], [0, [], true, []]);
  const beats = stepsFor(plan, 1000, 'heartbeats');
  assert.deepEqual(
    [beats.heartbeatS, beats.propagationRuns, beats.leanLoads, beats.fanOut, beats.rollouts, beats.leanS],
    [0, 0, [1, 2, 4], false, [], 30],
    'every lean load, each as long as the heartbeat window, and nothing else',
  );
  const changes = stepsFor(plan, 10_000, 'changes');
  assert.deepEqual(
    [changes.heartbeatS, changes.propagationRuns, changes.leanLoads, changes.fanOut, changes.rollouts],
    [0, 3, [], false, []],
    'the three changes (and the rollback after them), nothing else',
  );
  const { onlyMode } = await import('./sim-run.js');
  assert.equal(onlyMode(undefined), undefined);
  assert.equal(onlyMode('changes'), 'changes');
  assert.throws(() => onlyMode('fan-out'), /not one of rollouts, fanout, heartbeats, changes/);
});
