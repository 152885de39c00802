import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredInstance } from '../../api/index.js';
import { processDefaults } from '../../release/index.js';
import { watchSpec } from '../specs.js';
import { hostVolumeName, VOLUME_NAME_MAX } from './instance-volumes.js';
import { containerSpec, driverOf, resourcesOf, volumeName } from './spec.js';

const manifest = {
  schema: 1 as const,
  job: 'a.b',
  version: 'abcdef012',
  commit: `abcdef012${'0'.repeat(31)}`,
  repo: 'r',
  builtAt: '2026-01-01T00:00:00.000Z',
  stack: 'x',
  env: {},
  processes: [processDefaults('web', { command: 'node server.js', resources: { memory: 1 << 30 } })],
  runtimes: { node: '20.1.0' },
  driver: 'container' as const,
  resources: { cpu: 0.5, memory: 256 << 20 },
  volumes: [{ name: 'data', path: '/data' }],
};
const d = { tag: 'cop.x_job.web', version: 'abcdef012', manifest, kind: 'deploy' } as unknown as DesiredInstance;

test('the driver: the desired state, else noops.yaml, else process', () => {
  assert.equal(driverOf(d), 'container');
  assert.equal(driverOf({ ...d, driver: 'process' }), 'process');
  assert.equal(driverOf({ ...d, manifest: { ...manifest, driver: undefined } }), 'process');
});

test("a process's own limits win key by key; volumes are named per instance", () => {
  assert.deepEqual(resourcesOf({ cpu: 0.5, memory: 1 }, { memory: 2 }), { cpu: 0.5, memory: 2 });
  assert.equal(resourcesOf(undefined, undefined), undefined);
  assert.equal(volumeName('cop.x_job.web', 'web', 'data'), 'noops-cop_x_job_web-web-data');
});

test("the engine's name of a volume adds the host (no host name holds _); a name too long is cut and hashed", () => {
  assert.equal(hostVolumeName('web-1.dc', 'noops-cop_x_job_web-web-data'), 'noops-web-1.dc_cop_x_job_web-web-data');
  const long = hostVolumeName('h', `noops-${'t'.repeat(300)}-web-data`);
  assert.equal(long.length, VOLUME_NAME_MAX);
  assert.match(long, /^noops-h_t+-[0-9a-f]{12}$/);
  assert.notEqual(long, hostVolumeName('h', `noops-${'t'.repeat(300)}-web-logs`), 'the hash is of the whole name');
});

test('the container part mounts the release and runtimes read-only at their paths, the data folder writable', () => {
  const c = containerSpec(d, manifest.processes[0]!, {
    release: '/r/rel',
    data: '/r/data',
    runtimes: '/r/runtimes',
    node: '/usr/bin/node',
  });
  assert.deepEqual(c.mounts, [
    { source: '/r/rel', target: '/r/rel', readOnly: true },
    { source: '/r/runtimes/node/20.1.0', target: '/r/runtimes/node/20.1.0', readOnly: true },
    { source: '/usr/bin/node', target: '/usr/bin/node', readOnly: true },
    { source: '/r/data', target: '/r/data', readOnly: false },
  ]);
  assert.deepEqual(c.volumes, [{ name: 'noops-cop_x_job_web-web-data', path: '/data' }]);
  assert.deepEqual(c.resources, { cpu: 0.5, memory: 1 << 30 });
  assert.deepEqual(c.labels, { 'noops.owned': '1', 'noops.tag': 'cop.x_job.web', 'noops.process': 'web', 'noops.version': 'abcdef012' });
  assert.equal(c.image, undefined, 'the base image');
});

test('watchSpec carries the container part only for the container driver; command, cwd and env are the same', () => {
  const users = { defaultUser: null };
  const inContainer = watchSpec('/r', d, manifest.processes[0]!, 8080, users);
  const asProcess = watchSpec('/r', { ...d, driver: 'process' }, manifest.processes[0]!, 8080, users);
  assert.ok(inContainer.container);
  assert.equal(asProcess.container, undefined);
  const { container: _c, ...rest } = inContainer;
  assert.deepEqual(rest, asProcess);
});
