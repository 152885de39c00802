import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processDefaults, validateManifest } from './manifest.js';
import type { ReleaseManifest } from './types.js';

const good: ReleaseManifest = {
  schema: 1,
  job: 'cop.acme_owt.web_pdl.shop_service.api_job.web',
  version: '15b2980f8',
  commit: '15b2980f8a1c0e4d5b6a7f8e9d0c1b2a3f4e5d6c',
  repo: 'https://git.example.com/shop/api.git',
  builtAt: '2024-05-01T12:00:00.000Z',
  stack: 'procfile',
  env: { NODE_ENV: 'production' },
  processes: [processDefaults('web', { command: 'node server.js' })],
};

const supervisionDefaults = {
  restart: 'always',
  stopCommand: null,
  user: null,
  conditions: [],
  flapping: { times: 5, within: 120, retryIn: 300, retryTimes: 5, retryWithin: 3600 },
  logs: { maxSize: 10 * 1024 * 1024, keep: 5 },
};

test('processDefaults: web gets an auto port, others none', () => {
  assert.deepEqual(processDefaults('web', { command: 'node server.js' }), {
    name: 'web',
    command: 'node server.js',
    port: 'auto',
    env: {},
    stopSignal: 'SIGTERM',
    stopTimeout: 10,
    startGrace: 2,
    restart: 'always',
    stopCommand: null,
    user: null,
    flapping: { times: 5, within: 120, retryIn: 300, retryTimes: 5, retryWithin: 3600 },
    logs: { maxSize: 10 * 1024 * 1024, keep: 5 },
    conditions: [],
  });
  assert.deepEqual(
    processDefaults('worker', { command: 'w', port: 9000, env: { A: 'b' }, stopSignal: 'SIGQUIT', stopTimeout: 0, startGrace: 5 }),
    {
      name: 'worker',
      command: 'w',
      port: 9000,
      env: { A: 'b' },
      stopSignal: 'SIGQUIT',
      stopTimeout: 0,
      startGrace: 5,
      ...supervisionDefaults,
    },
  );
  assert.equal(processDefaults('worker', { command: 'w' }).port, null);
  assert.equal(processDefaults('web', { command: 'w', port: null }).port, null);
});

test('a valid manifest comes back equal', () => {
  assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(good))), good);
});

test('unknown keys, wrong types and a mismatched version are listed', () => {
  const bad = { ...good, version: '15b2980f9', extra: 1, processes: [{ ...good.processes[0], port: 'any' }] };
  assert.throws(() => validateManifest(bad), {
    code: 'NOOPS_E_PACKAGE_INVALID',
    message: ['manifest.json: processes[0].port: expected a number, "auto" or null', 'manifest.json: extra: unknown key'].join('\n'),
  });
  assert.throws(() => validateManifest({ ...good, version: '15b2980f9' }), {
    message: 'manifest.json: version: expected 15b2980f8, the start of the commit',
  });
});

test('another schema, no processes, duplicate names and ports are refused', () => {
  assert.throws(() => validateManifest({ ...good, schema: 2 }), { message: /^manifest\.json: schema: expected 1/ });
  assert.throws(() => validateManifest({ ...good, processes: [] }), {
    message: 'manifest.json: processes: a release runs at least one process',
  });
  const p = { ...good.processes[0], port: 8080 };
  assert.throws(() => validateManifest({ ...good, processes: [p, p] }), {
    message:
      'manifest.json: processes[1].name: process "web" is defined twice\nmanifest.json: processes[1].port: port 8080 is also the port of "web"',
  });
  assert.throws(() => validateManifest('nope'), { code: 'NOOPS_E_PACKAGE_INVALID' });
});

test("health checks: the process's own, else tcp for a port, else none; manifests carry them and deploy tests", async () => {
  const { healthCheckOf } = await import('./health.js');
  assert.deepEqual(healthCheckOf({ port: 'auto' }), { type: 'tcp', interval: 1, timeout: 2 });
  assert.deepEqual(healthCheckOf({ port: null }), { type: 'none' });
  assert.deepEqual(healthCheckOf({ port: 80, healthcheck: { type: 'http', path: '/h', interval: 1, timeout: 1 } }), {
    type: 'http',
    path: '/h',
    interval: 1,
    timeout: 1,
  });
  const web = processDefaults('web', { command: 'x', healthcheck: { type: 'http', path: '/h', interval: 1, timeout: 1 } });
  const m = validateManifest({ ...good, processes: [web], deployTests: ['./smoke.sh'] });
  assert.deepEqual([m.processes[0]!.healthcheck, m.deployTests], [{ type: 'http', path: '/h', interval: 1, timeout: 1 }, ['./smoke.sh']]);
  assert.throws(() => validateManifest({ ...good, processes: [{ ...web, healthcheck: { type: 'udp' } }] }), {
    code: 'NOOPS_E_PACKAGE_INVALID',
  });
});
