import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import { parseNoopsYaml } from './noops-yaml.js';
import { validateManifest } from './manifest.js';
import { toResources } from './containers-yaml.js';

function failure(text: string): string {
  try {
    parseNoopsYaml(text);
  } catch (err) {
    assert.ok(err instanceof NoopsError);
    assert.equal(err.code, 'NOOPS_E_MANIFEST');
    return err.message;
  }
  assert.fail('expected a NOOPS_E_MANIFEST error');
}

test('driver, image, resources and volumes parse, sizes into bytes', () => {
  const y = parseNoopsYaml(
    [
      'driver: container',
      'image: debian:12',
      'resources: { cpu: 0.5, memory: 256M, pids: 200 }',
      'volumes:',
      '  - { name: data, path: /data }',
      '  - name: cache',
      '    path: /var/cache/app',
      'processes:',
      '  web:',
      '    command: node server.js',
      '    resources: { memory: 1G }',
    ].join('\n'),
  );
  assert.equal(y.driver, 'container');
  assert.equal(y.image, 'debian:12');
  assert.deepEqual(toResources(y.resources), { cpu: 0.5, memory: 256 * 1024 ** 2, pids: 200 });
  assert.deepEqual(y.volumes, [
    { name: 'data', path: '/data' },
    { name: 'cache', path: '/var/cache/app' },
  ]);
  assert.deepEqual(toResources(y.processes?.web?.resources), { memory: 1024 ** 3 });
});

test('bad container keys are errors with their line and key path', () => {
  assert.match(failure('driver: vm\n'), /^noops\.yaml:1: driver: expected process or container/);
  assert.match(failure('x: 1\nresources: { memory: lots }\n'), /noops\.yaml:2: resources\.memory: expected a size/);
  assert.match(failure('resources: { memory: 1k }\n'), /resources\.memory: expected at least 6M/);
  assert.match(failure('resources: { cpu: 0 }\n'), /resources\.cpu: expected more than 0 cores/);
  assert.match(failure('resources: { pids: 2.5 }\n'), /resources\.pids: expected a whole number/);
  assert.match(failure('resources: { disk: 1G }\n'), /resources\.disk: unknown key/);
  assert.match(failure('image: "Bad Name"\n'), /noops\.yaml:1: image: expected an image name/);
  assert.match(failure('volumes:\n  - { name: data, path: data }\n'), /noops\.yaml:2: volumes\[0\]\.path: expected an absolute path/);
  assert.match(
    failure('volumes:\n  - { name: data, path: /a }\n  - { name: data, path: /b }\n'),
    /noops\.yaml:3: volumes\[1\]\.name: volume "data" is named twice/,
  );
  assert.match(
    failure('processes:\n  web:\n    command: x\n    resources: { pids: 1 }\n'),
    /noops\.yaml:4: processes\.web\.resources\.pids: expected at least 8/,
  );
});

test('manifest.json keeps the container keys and validates them', () => {
  const base = {
    schema: 1,
    job: 'a.b',
    version: 'abcdef012',
    commit: `abcdef012${'0'.repeat(31)}`,
    repo: 'r',
    builtAt: '2026-01-01T00:00:00.000Z',
    stack: 'x',
    env: {},
    processes: [
      {
        name: 'web',
        command: 'x',
        port: 'auto',
        env: {},
        stopSignal: 'SIGTERM',
        stopTimeout: 1,
        startGrace: 1,
        resources: { memory: 64 * 1024 * 1024 },
      },
    ],
  };
  const m = validateManifest({ ...base, driver: 'container', resources: { cpu: 1 }, volumes: [{ name: 'data', path: '/data' }] });
  assert.equal(m.driver, 'container');
  assert.deepEqual(m.volumes, [{ name: 'data', path: '/data' }]);
  assert.deepEqual(m.processes[0]?.resources, { memory: 64 * 1024 * 1024 });
  assert.throws(() => validateManifest({ ...base, driver: 'vm' }), /driver/);
});
