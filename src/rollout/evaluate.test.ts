import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostReadiness, observe, previousVersion, revertState } from './evaluate.js';
import type { ProcessReport } from '../api/index.js';

const T0 = '2024-05-01T12:00:00.000Z';
const proc = (over: Partial<ProcessReport>): ProcessReport => ({
  tag: 't',
  process: 'web',
  version: 'v2',
  state: 'up',
  pid: 1,
  port: 8000,
  restarts: 0,
  startedAt: T0,
  error: null,
  ...over,
});
const obs = (...processes: ProcessReport[]) => ({ processes, failure: undefined });

test('a host is healthy only when every declared process runs the version, is up and passes its check', () => {
  assert.deepEqual(hostReadiness('v2', ['web'], undefined), { kind: 'pending', reason: 'its agent has not reported yet' });
  assert.deepEqual(hostReadiness('v2', ['web'], obs(proc({ version: 'v1' }))), { kind: 'pending', reason: 'web: not running v2 yet' });
  assert.deepEqual(hostReadiness('v2', ['web'], obs(proc({ state: 'backoff', error: 'exited with code 1' }))), {
    kind: 'pending',
    reason: 'web: backoff (exited with code 1)',
  });
  assert.deepEqual(hostReadiness('v2', ['web'], obs(proc({ health: 'starting' }))), {
    kind: 'pending',
    reason: 'web: waiting for its first health check',
  });
  assert.deepEqual(
    hostReadiness('v2', ['web'], obs(proc({ health: 'unhealthy', healthError: 'tcp 127.0.0.1:8000: connection refused' }))),
    {
      kind: 'pending',
      reason: 'web: health check failing: tcp 127.0.0.1:8000: connection refused',
    },
  );
  assert.deepEqual(hostReadiness('v2', ['web', 'worker'], obs(proc({ health: 'healthy', healthySince: T0 }))), {
    kind: 'pending',
    reason: 'worker: not running v2 yet',
  });
});

test('healthy since the latest of its processes; an agent without checks counts from the start', () => {
  const later = '2024-05-01T12:00:05.000Z';
  assert.deepEqual(
    hostReadiness(
      'v2',
      ['web', 'worker'],
      obs(
        proc({ health: 'healthy', healthySince: T0, downloaded: false }),
        proc({ process: 'worker', port: null, health: 'healthy', healthySince: later, downloaded: false }),
      ),
    ),
    { kind: 'healthy', since: Date.parse(later), downloaded: false },
  );
  assert.deepEqual(hostReadiness('v2', ['web'], obs(proc({}))), { kind: 'healthy', since: Date.parse(T0), downloaded: null });
  assert.deepEqual(hostReadiness('v2', ['web'], obs(proc({ downloaded: true, health: 'healthy', healthySince: T0 }))), {
    kind: 'healthy',
    since: Date.parse(T0),
    downloaded: true,
  });
});

test('a failure of the target version fails the host; a failure of another version does not', () => {
  assert.deepEqual(hostReadiness('v2', ['web'], { processes: [], failure: { tag: 't', version: 'v2', error: 'sha256 mismatch' } }), {
    kind: 'failed',
    reason: 'sha256 mismatch',
  });
  assert.equal(hostReadiness('v2', ['web'], { processes: [], failure: { tag: 't', version: 'v1', error: 'old' } }).kind, 'pending');
});

test('a host has gone back when everything it runs of the tag is the previous version and up', () => {
  assert.equal(revertState('v1', undefined), 'pending');
  assert.equal(revertState('v1', obs(proc({ version: 'v2' }))), 'pending');
  assert.equal(revertState('v1', obs(proc({ version: 'v1', state: 'starting' }))), 'pending');
  assert.equal(revertState('v1', obs(proc({ version: 'v1' }))), 'done');
  assert.equal(revertState('v1', obs()), 'pending');
  assert.equal(revertState(null, obs()), 'done');
  assert.equal(revertState(null, obs(proc({}))), 'pending');
  assert.deepEqual(revertState('v1', { processes: [], failure: { tag: 't', version: 'v1', error: 'disk full' } }), { failed: 'disk full' });
});

test('observe picks one tag out of a report', () => {
  const report = { processes: [proc({}), proc({ tag: 'other' })], failures: [{ tag: 'other', version: 'x', error: 'e' }] };
  assert.deepEqual(observe('t', report), { processes: [proc({})], failure: undefined });
  assert.equal(observe('t', undefined), undefined);
});

test('rollback goes to the newest succeeded version that differs from the current one', () => {
  assert.equal(previousVersion([]), null);
  assert.equal(previousVersion([{ version: 'v3' }, { version: 'v3' }]), null);
  assert.equal(previousVersion([{ version: 'v3' }, { version: 'v3' }, { version: 'v2' }, { version: 'v1' }]), 'v2');
});

test('the replicas a host reports (web@2) gate it as their process does', () => {
  const T1 = '2024-05-01T12:00:05.000Z';
  const healthy = (process: string, since = T0) => proc({ process, health: 'healthy', healthySince: since });
  assert.deepEqual(hostReadiness('v2', ['web'], obs(healthy('web'), proc({ process: 'web@2', health: 'starting' }))), {
    kind: 'pending',
    reason: 'web@2: waiting for its first health check',
  });
  assert.deepEqual(hostReadiness('v2', ['web'], obs(healthy('web'), healthy('web@2', T1))), {
    kind: 'healthy',
    since: Date.parse(T1),
    downloaded: null,
  });
  // a replica of the old version (being replaced) or of a process the release does not declare does not count
  assert.equal(
    hostReadiness('v2', ['web'], obs(healthy('web'), proc({ process: 'web@2', version: 'v1', state: 'exited' }))).kind,
    'healthy',
  );
  assert.equal(hostReadiness('v2', ['web'], obs(healthy('web'), proc({ process: 'other@2', state: 'exited' }))).kind, 'healthy');
});
