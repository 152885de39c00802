import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateDeployment, evaluateHost, observe, previousVersion, type HostObservation } from './evaluate.js';
import type { ProcessReport } from '../api/types.js';

const proc = (over: Partial<ProcessReport>): ProcessReport => ({
  tag: 't', process: 'web', version: 'v2', state: 'up', pid: 1, port: 8000, restarts: 0, startedAt: null, error: null, ...over,
});

test('a host succeeds only when every declared process runs the new version and is up', () => {
  assert.equal(evaluateHost('v2', ['web'], undefined), 'pending');
  assert.equal(evaluateHost('v2', ['web'], { processes: [proc({ version: 'v1' })], failure: undefined }), 'pending');
  assert.equal(evaluateHost('v2', ['web'], { processes: [proc({ state: 'starting' })], failure: undefined }), 'pending');
  assert.equal(evaluateHost('v2', ['web', 'worker'], { processes: [proc({})], failure: undefined }), 'pending');
  assert.equal(evaluateHost('v2', ['web', 'worker'], { processes: [proc({}), proc({ process: 'worker' })], failure: undefined }), 'succeeded');
});

test('a failure of the target version fails the host; a failure of another version does not', () => {
  assert.equal(evaluateHost('v2', ['web'], { processes: [], failure: { tag: 't', version: 'v2', error: 'sha256 mismatch' } }), 'failed: sha256 mismatch');
  assert.equal(evaluateHost('v2', ['web'], { processes: [], failure: { tag: 't', version: 'v1', error: 'old' } }), 'pending');
});

test('a deployment succeeds when all hosts have, fails on the first failure, and fails at its deadline', () => {
  const d = { version: 'v2', hosts: ['a', 'b'], deadline: new Date(1000).toISOString() };
  const up: HostObservation = { processes: [proc({})], failure: undefined };
  assert.deepEqual(evaluateDeployment(d, ['web'], new Map([['a', up], ['b', up]]), 0), {
    hostResults: { a: 'succeeded', b: 'succeeded' }, outcome: 'succeeded', message: null,
  });
  assert.deepEqual(evaluateDeployment(d, ['web'], new Map([['a', up]]), 0), {
    hostResults: { a: 'succeeded', b: 'pending' }, outcome: 'running', message: null,
  });
  assert.deepEqual(evaluateDeployment(d, ['web'], new Map([['a', up]]), 1000), {
    hostResults: { a: 'succeeded', b: 'failed: timed out waiting for the new release to be up' },
    outcome: 'failed',
    message: 'timed out waiting for b to run v2',
  });
  const bad: HostObservation = { processes: [], failure: { tag: 't', version: 'v2', error: 'boom' } };
  assert.deepEqual(evaluateDeployment(d, ['web'], new Map([['a', up], ['b', bad]]), 0), {
    hostResults: { a: 'succeeded', b: 'failed: boom' }, outcome: 'failed', message: 'the new release failed on 1 host(s): b: boom',
  });
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
