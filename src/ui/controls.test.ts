import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentView, RolloutProgress } from '../api/index.js';
import { actionsFor, tallyOf, whereWords } from './controls.js';

function progress(over: Partial<RolloutProgress>): RolloutProgress {
  return {
    policy: {
      batch: [1, '100%'],
      pause: 0,
      healthy_for: 0,
      timeout: 300,
      max_failures: 0,
      on_failure: 'rollback',
      canary: false,
      canary_wait: null,
      test_timeout: 300,
    },
    batches: [['h2'], ['h1', 'h3']],
    batch: 0,
    phase: 'deploying',
    phaseSince: '2024-01-01T00:00:00Z',
    paused: false,
    promoted: false,
    abort: null,
    outcome: null,
    tests: [],
    hasTests: false,
    log: [],
    hosts: {
      h1: { state: 'queued', batch: 1, reason: null, startedAt: null, healthySince: null, endedAt: null, downloaded: null },
      h2: { state: 'succeeded', batch: 0, reason: null, startedAt: null, healthySince: null, endedAt: null, downloaded: true },
      h3: { state: 'failed', batch: 1, reason: 'exited with code 2', startedAt: null, healthySince: null, endedAt: null, downloaded: true },
    },
    ...over,
  };
}

function view(p: RolloutProgress | null, status: DeploymentView['status'] = 'running'): DeploymentView {
  return {
    id: 1,
    tag: 't',
    version: 'abcdef123',
    kind: 'deploy',
    initiator: 'admin',
    startedAt: '2024-01-01T00:00:00Z',
    endedAt: null,
    hostCount: 3,
    hosts: ['h1', 'h2', 'h3'],
    status,
    previous: {},
    hostResults: { h1: 'pending', h2: 'succeeded', h3: 'failed: boom' },
    message: null,
    conf: {},
    progress: p,
  };
}

test('a deployment from before batched rollouts offers no action', () => {
  assert.deepEqual(actionsFor(view(null)), []);
});

test('tallyOf: done, gone wrong, to go, from the hosts per state', () => {
  assert.deepEqual(tallyOf({ succeeded: 1, failed: 1, queued: 1 }, 3), { done: 1, bad: 1, rest: 1, total: 3 });
  assert.deepEqual(tallyOf({ reverting: 2, stopped: 1, deploying: 4 }, 10), { done: 0, bad: 3, rest: 7, total: 10 });
});

test("the actions follow the server's rules", () => {
  assert.deepEqual(actionsFor(view(progress({}))), ['pause', 'abort']);
  assert.deepEqual(actionsFor(view(progress({ phase: 'canary' }))), ['pause', 'promote', 'abort']);
  assert.deepEqual(actionsFor(view(progress({ phase: 'canary', paused: true }))), ['resume', 'promote', 'abort']);
  assert.deepEqual(actionsFor(view(progress({ phase: 'reverting' }))), []);
  assert.deepEqual(actionsFor(view(progress({ abort: { by: 'admin', at: '2024-01-01T00:00:00Z' } }))), ['pause']);
  assert.deepEqual(actionsFor(view(progress({ phase: 'done' }), 'succeeded')), []);
});

test('where it is, in words', () => {
  assert.equal(whereWords(view(progress({}))), 'batch 1 of 2 · deploying');
  assert.equal(whereWords(view(progress({ phase: 'canary', paused: true }))), 'batch 1 of 2 · canary: waiting for promote · paused');
  assert.equal(whereWords(view(null)), '');
});
