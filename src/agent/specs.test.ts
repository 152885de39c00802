import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesiredInstance } from '../api/types.js';
import { processDefaults, type ProcessSpec } from '../release/index.js';
import { cronSpec, watchSpec } from './specs.js';

const TAG = 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.prod';
function desired(processes: ProcessSpec[]): DesiredInstance {
  return {
    tag: TAG, version: 'abcdef123', sha256: 'x', url: '/x', deploymentId: 1, kind: 'deploy',
    manifest: {
      schema: 1, job: 'j', version: 'abcdef123', commit: 'c', repo: 'r', builtAt: 'b', stack: 's', env: { A: '1' }, processes,
      crons: [{ name: 'report', schedule: '0 3 * * *', timezone: 'Asia/Shanghai', command: './r.sh', env: { B: '2' }, timeout: 60, user: null }],
    },
  };
}

test('a process of an older manifest (no supervision keys) leaves the supervisor\'s defaults in place', () => {
  const old: ProcessSpec = { name: 'web', command: 'node s.js', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 10, startGrace: 2 };
  const ws = watchSpec('/root', desired([old]), old, 8080);
  assert.equal(ws.id, `${TAG}/web`);
  assert.equal(ws.env.PORT, '8080');
  assert.equal(ws.cwd, `/root/jobs/${TAG}/releases/abcdef123`);
  assert.deepEqual([ws.restart, ws.flapping, ws.logs, ws.stopCommand, ws.user], [undefined, undefined, undefined, undefined, undefined]);
  assert.deepEqual(ws.conditions, []);
});

test('supervision keys become the supervisor\'s units; checks of the own port get the port', () => {
  const base = { interval: 2, times: 3, of: 5, action: 'restart' as const };
  const p: ProcessSpec = {
    ...processDefaults('web', { command: 'node s.js' }), restart: 'on-failure', stopCommand: './stop', user: 'www-data', flapping: false,
    logs: { maxSize: 1000, keep: 2 },
    conditions: [
      { kind: 'http', path: '/health', url: null, codeIs: [200], codeIsNot: null, timeout: 1.5, ...base },
      { kind: 'tcp', host: '127.0.0.1', port: null, timeout: 1, ...base },
      { kind: 'memory', above: 1024, ...base },
    ],
  };
  const ws = watchSpec('/root', desired([p]), p, 9000);
  assert.equal(ws.restart, 'on-failure');
  assert.equal(ws.flapping, null);
  assert.deepEqual(ws.logs, { maxBytes: 1000, keep: 2 });
  assert.equal(ws.stopCommand, './stop');
  assert.equal(ws.user, 'www-data');
  const timing = { intervalMs: 2000, times: 3, of: 5, action: 'restart' };
  assert.deepEqual(ws.conditions, [
    { kind: 'http', url: 'http://127.0.0.1:9000/health', codeIs: [200], timeoutMs: 1500, ...timing },
    { kind: 'tcp', host: '127.0.0.1', port: 9000, timeoutMs: 1000, ...timing },
    { kind: 'memory', aboveBytes: 1024, ...timing },
  ]);
});

test('a cron runs in the release folder with the job environment; its logs are cron-NAME', () => {
  const d = desired([processDefaults('web', { command: 'x' })]);
  const c = cronSpec('/root', d, d.manifest.crons![0]!);
  assert.equal(c.id, `${TAG}/report`);
  assert.equal(c.timezone, 'Asia/Shanghai');
  assert.equal(c.logName, 'cron-report');
  assert.equal(c.timeoutMs, 60_000);
  assert.equal(c.env.A, '1');
  assert.equal(c.env.B, '2');
  assert.equal(c.env.NOOPS_DATA_DIR, `/root/jobs/${TAG}/shared/data`);
});
