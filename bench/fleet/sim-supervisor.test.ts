import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessStatus, WatchSpec } from '../../src/supervisor/index.js';
import { SimSupervisor } from './sim-supervisor.js';

const spec = (id: string, startGraceMs: number): WatchSpec => ({
  id,
  command: 'exec sleep 1',
  cwd: '/',
  env: {},
  logDir: '/tmp/x',
  logName: 'app',
  stopSignal: 'SIGTERM',
  stopTimeoutMs: 1000,
  startGraceMs,
});

test('a simulated process is starting, then up after its start grace, then stopped on request', async () => {
  const sup = new SimSupervisor();
  const states: string[] = [];
  sup.on('state', (s: ProcessStatus) => states.push(`${s.id} ${s.state}`));
  const started = sup.start(spec('a/app', 30));
  assert.equal(started.state, 'starting');
  assert.ok(started.pid !== null && started.pid >= 10_000_000, 'a pid no real process has');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(sup.status('a/app')?.state, 'up');
  await sup.stop('a/app');
  assert.equal(sup.status('a/app')?.state, 'stopped');
  assert.equal(sup.status('a/app')?.pid, null);
  assert.deepEqual(states, ['a/app starting', 'a/app up', 'a/app stopping', 'a/app stopped']);
  assert.equal(sup.forget('a/app'), 1);
  assert.equal(sup.status('a/app'), undefined);
});

test('like the real one: a running id cannot start twice; a stop before the grace never comes up', async () => {
  const sup = new SimSupervisor();
  sup.start(spec('b/app', 20));
  assert.throws(() => sup.start(spec('b/app', 20)), /already supervised/);
  await sup.stop('b/app');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sup.status('b/app')?.state, 'stopped');
  assert.equal(sup.start(spec('b/app', 0)).state, 'starting', 'a stopped id may start again');
  assert.equal(sup.adopt(spec('c/app', 0), { pid: 10_000_123, startTime: 5 }).state, 'up');
  assert.deepEqual(
    sup
      .detach()
      .map((s) => s.id)
      .sort(),
    ['b/app', 'c/app'],
  );
  assert.equal(sup.status('c/app'), undefined);
});
