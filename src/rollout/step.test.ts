import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessReport } from '../api/index.js';
import type { RolloutProgress } from './types.js';
import type { HostObservation } from './evaluate.js';
import { resolvePolicy, type PolicyInput } from './deploy-policy.js';
import { changedHosts, hostNames, hostResults, initialProgress, LOG_HOSTS, step, type StepInput } from './step.js';
import { applyCommand, recordTestEnd, recordTestStart } from './progress-updates.js';

const T = (s: number): number => Date.parse('2024-05-01T12:00:00.000Z') + s * 1000;
const iso = (s: number): string => new Date(T(s)).toISOString();

const up = (version: string, since: number, over: Partial<ProcessReport> = {}): HostObservation => ({
  processes: [
    {
      tag: 't',
      process: 'web',
      version,
      state: 'up',
      pid: 1,
      port: 1,
      restarts: 0,
      startedAt: iso(since),
      error: null,
      health: 'healthy',
      healthySince: iso(since),
      healthError: null,
      downloaded: true,
      ...over,
    },
  ],
  failure: undefined,
});
const failing = (version: string, error: string): HostObservation => ({ processes: [], failure: { tag: 't', version, error } });

/** A small harness: a deployment of v2 over hosts that ran v1, stepped with reports. */
function rollout(hosts: string[], batches: string[][], policy: PolicyInput = {}, hasTests = false) {
  let p: RolloutProgress = initialProgress(resolvePolicy(policy), batches, hasTests, iso(0));
  const obs = new Map<string, HostObservation | undefined>();
  const previous = Object.fromEntries(hosts.map((h) => [h, 'v1']));
  return {
    get p() {
      return p;
    },
    obs,
    set(progress: RolloutProgress) {
      p = progress;
    },
    step(at: number, extra: Partial<StepInput> = {}) {
      const r = step(p, { version: 'v2', previous, expected: ['web'], obs, now: T(at), graceUntil: 0, ...extra });
      p = r.progress;
      return { actions: r.actions, log: r.log, phase: p.phase, batch: p.batch };
    },
  };
}

test('batches run in order: each starts when the one before is healthy', () => {
  const r = rollout(['a', 'b', 'c'], [['a'], ['b', 'c']]);
  assert.deepEqual(r.step(0), { actions: [{ type: 'deploy', hosts: ['a'] }], log: ['batch 1 of 2: a'], phase: 'deploying', batch: 0 });
  assert.deepEqual(r.step(1).actions, [], 'nothing reported yet');
  assert.equal(r.p.hosts.a!.reason, 'its agent has not reported yet');
  r.obs.set('a', up('v2', 2));
  assert.deepEqual(r.step(3), {
    actions: [
      { type: 'healthy', host: 'a', version: 'v2' },
      { type: 'deploy', hosts: ['b', 'c'] },
    ],
    log: ['a is healthy on v2', 'batch 2 of 2: b, c'],
    phase: 'deploying',
    batch: 1,
  });
  r.obs.set('b', up('v2', 4));
  assert.deepEqual(r.step(5).actions, [{ type: 'healthy', host: 'b', version: 'v2' }]);
  r.obs.set('c', up('v2', 5, { downloaded: false }));
  assert.deepEqual(r.step(6), {
    actions: [
      { type: 'healthy', host: 'c', version: 'v2' },
      { type: 'end', status: 'succeeded', message: null },
    ],
    log: ['c is healthy on v2 (no download: the release was on disk)', 'succeeded'],
    phase: 'done',
    batch: 1,
  });
  assert.deepEqual(r.p.hosts.c, {
    state: 'succeeded',
    batch: 1,
    reason: null,
    startedAt: iso(3),
    healthySince: iso(5),
    endedAt: iso(6),
    downloaded: false,
  });
  assert.deepEqual(hostResults(r.p), { a: 'succeeded', b: 'succeeded', c: 'succeeded' });
  assert.deepEqual(r.step(7).actions, [], 'an ended deployment does nothing');
});

test('a host counts only once healthy for healthy_for; a relapse starts the count again', () => {
  const r = rollout(['a'], [['a']], { healthy_for: 10 });
  r.step(0);
  r.obs.set('a', up('v2', 1));
  assert.deepEqual(r.step(5).actions, []);
  assert.equal(r.p.hosts.a!.state, 'healthy');
  r.obs.set('a', up('v2', 1, { health: 'unhealthy', healthySince: null, healthError: 'http 500' }));
  r.step(6);
  assert.deepEqual([r.p.hosts.a!.state, r.p.hosts.a!.reason], ['deploying', 'web: health check failing: http 500']);
  r.obs.set('a', up('v2', 7));
  assert.deepEqual(r.step(16).actions, []);
  assert.deepEqual(r.step(17).actions, [
    { type: 'healthy', host: 'a', version: 'v2' },
    { type: 'end', status: 'succeeded', message: null },
  ]);
});

test('the pause between batches, and a pause by a person holds the next batch until resume', () => {
  const r = rollout(['a', 'b', 'c'], [['a'], ['b'], ['c']], { pause: 30 });
  r.step(0);
  r.obs.set('a', up('v2', 1));
  assert.equal(r.step(2).phase, 'waiting');
  assert.deepEqual(r.step(31).actions, []);
  assert.deepEqual(r.step(32).actions, [{ type: 'deploy', hosts: ['b'] }]);
  r.set(applyCommand(r.p, 'pause', 'alice', T(33)));
  r.obs.set('b', up('v2', 34));
  assert.deepEqual(r.step(35).actions, [{ type: 'healthy', host: 'b', version: 'v2' }], 'the running batch finishes');
  assert.deepEqual(r.step(100).actions, [], 'held past the pause');
  assert.throws(() => applyCommand(r.p, 'pause', 'alice', T(101)), {
    code: 'NOOPS_E_DEPLOY_STATE',
    message: 'cannot pause: it is paused already (it is between batch 2 of 3 and the next (paused))',
  });
  r.set(applyCommand(r.p, 'resume', 'bob', T(102)));
  assert.deepEqual(r.step(102).actions, [{ type: 'deploy', hosts: ['c'] }]);
  assert.deepEqual(
    r.p.log.map((l) => l.message).filter((m) => / by /.test(m)),
    ['paused by alice', 'resumed by bob'],
  );
});

test('a canary waits for promote; promote is refused anywhere else', () => {
  const r = rollout(['a', 'b'], [['b'], ['a']], { canary: true });
  assert.deepEqual(r.step(0).log, ['batch 1 of 2 (canary): b']);
  assert.throws(() => applyCommand(r.p, 'promote', 'alice', T(1)), {
    message: 'cannot promote: it is not waiting at a canary (it is deploying batch 1 of 2)',
  });
  r.obs.set('b', up('v2', 1));
  assert.deepEqual(r.step(2), {
    actions: [{ type: 'healthy', host: 'b', version: 'v2' }],
    log: ['b is healthy on v2', 'canary b is healthy; waiting for `noops deploy promote`'],
    phase: 'canary',
    batch: 0,
  });
  assert.deepEqual(r.step(10_000).actions, [], 'waits for a person');
  r.set(applyCommand(r.p, 'promote', 'alice', T(10_001)));
  assert.deepEqual(r.step(10_001).actions, [{ type: 'deploy', hosts: ['a'] }]);
});

test('a canary with canary_wait goes on by itself', () => {
  const r = rollout(['a', 'b'], [['a'], ['b']], { canary: true, canary_wait: 60 });
  r.step(0);
  r.obs.set('a', up('v2', 1));
  r.step(2);
  assert.deepEqual(r.step(61).actions, []);
  assert.deepEqual(r.step(62), {
    actions: [{ type: 'deploy', hosts: ['b'] }],
    log: ['the canary waited 1m; going on', 'batch 2 of 2: b'],
    phase: 'deploying',
    batch: 1,
  });
});

test('a failure in a batch rolls back every changed host and ends rolled_back once they are back', () => {
  const r = rollout(['a', 'b', 'c', 'd'], [['a'], ['b', 'c'], ['d']]);
  r.step(0);
  r.obs.set('a', up('v2', 1));
  r.step(2);
  r.obs.set('b', up('v2', 3));
  r.obs.set('c', failing('v2', 'process web died 3 times before staying up 2s'));
  const msg = '1 host(s) failed in batch 2 of 3: c: process web died 3 times before staying up 2s';
  assert.deepEqual(r.step(4), {
    actions: [
      { type: 'healthy', host: 'b', version: 'v2' },
      { type: 'revert', hosts: ['a', 'b', 'c'] },
    ],
    log: [
      'b is healthy on v2',
      'c failed: process web died 3 times before staying up 2s',
      `${msg}; sending a, b, c back to the previous release`,
    ],
    phase: 'reverting',
    batch: 1,
  });
  assert.equal(r.p.hosts.d!.state, 'skipped');
  r.obs.set('a', up('v1', 5));
  r.obs.set('b', up('v1', 5));
  assert.deepEqual(r.step(5).actions, [
    { type: 'healthy', host: 'a', version: 'v1' },
    { type: 'healthy', host: 'b', version: 'v1' },
  ]);
  r.obs.set('c', up('v1', 0));
  assert.deepEqual(r.step(6).actions, [
    { type: 'healthy', host: 'c', version: 'v1' },
    { type: 'end', status: 'rolled_back', message: `${msg}; every changed host is back on its previous release` },
  ]);
  assert.deepEqual(hostResults(r.p), {
    a: 'reverted',
    b: 'reverted',
    c: 'reverted after failing: process web died 3 times before staying up 2s',
    d: 'skipped',
  });
});

test('a host that never gets healthy fails at the batch deadline with the last reason', () => {
  const r = rollout(['a', 'b'], [['a', 'b']], { timeout: 10 });
  r.step(0);
  r.obs.set('a', up('v2', 1));
  r.obs.set('b', up('v2', 1, { health: 'unhealthy', healthySince: null, healthError: 'tcp 127.0.0.1:1: connection refused' }));
  assert.deepEqual(r.step(9).actions, [{ type: 'healthy', host: 'a', version: 'v2' }]);
  const out = r.step(10);
  assert.deepEqual(out.actions, [{ type: 'revert', hosts: ['a', 'b'] }]);
  assert.equal(r.p.hosts.b!.reason, 'not healthy within 10s: web: health check failing: tcp 127.0.0.1:1: connection refused');
});

test('no deadline passes before the grace after a server restart', () => {
  const r = rollout(['a'], [['a']], { timeout: 10 });
  r.step(0);
  assert.deepEqual(r.step(50, { graceUntil: T(55) }).actions, []);
  r.obs.set('a', up('v2', 52));
  assert.equal(r.step(53, { graceUntil: T(55) }).phase, 'done');
});

test('on_failure stop ends failed and leaves the hosts as they are', () => {
  const r = rollout(['a', 'b', 'c'], [['a'], ['b'], ['c']], { on_failure: 'stop' });
  r.step(0);
  r.obs.set('a', up('v2', 1));
  r.step(2);
  r.obs.set('b', failing('v2', 'boom'));
  assert.deepEqual(r.step(3).actions, [
    { type: 'end', status: 'failed', message: '1 host(s) failed in batch 2 of 3: b: boom; stopped (on_failure: stop): a keep v2' },
  ]);
  assert.deepEqual(hostResults(r.p), { a: 'succeeded', b: 'failed: boom', c: 'skipped' });
});

test('tolerated failures send just that host back and the rollout goes on', () => {
  const r = rollout(
    ['a', 'b', 'c', 'd'],
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
    { max_failures: '25%' },
  );
  r.step(0);
  r.obs.set('a', failing('v2', 'disk full'));
  r.obs.set('b', up('v2', 1));
  assert.deepEqual(r.step(2).actions, [
    { type: 'healthy', host: 'b', version: 'v2' },
    { type: 'revert', hosts: ['a'] },
    { type: 'deploy', hosts: ['c', 'd'] },
  ]);
  r.obs.set('c', failing('v2', 'disk full'));
  assert.deepEqual(r.step(3).actions, [{ type: 'revert', hosts: ['a', 'b', 'c', 'd'] }], 'a second failure is one too many');
});

test('deploy tests run after the first and the last batch; a failure rolls back', () => {
  const r = rollout(['a', 'b', 'c'], [['a'], ['b'], ['c']], {}, true);
  r.step(0);
  r.obs.set('a', up('v2', 1));
  assert.deepEqual(r.step(2), {
    actions: [
      { type: 'healthy', host: 'a', version: 'v2' },
      { type: 'test', batch: 0 },
    ],
    log: ['a is healthy on v2', 'running the deploy tests after batch 1 of 3'],
    phase: 'testing',
    batch: 0,
  });
  r.set(recordTestStart(r.p, 0, ['10.0.0.1:8000'], T(2)));
  assert.deepEqual(r.step(3).actions, [], 'waits for the tests');
  r.set(recordTestEnd(r.p, 0, [{ command: 'npm run smoke', code: 0, output: 'ok\n' }], T(4)));
  assert.deepEqual(r.step(4).actions, [{ type: 'deploy', hosts: ['b'] }], 'no tests after a middle batch');
  r.obs.set('b', up('v2', 5));
  assert.deepEqual(r.step(6).actions, [
    { type: 'healthy', host: 'b', version: 'v2' },
    { type: 'deploy', hosts: ['c'] },
  ]);
  r.obs.set('c', up('v2', 7));
  assert.deepEqual(r.step(8).actions, [
    { type: 'healthy', host: 'c', version: 'v2' },
    { type: 'test', batch: 2 },
  ]);
  r.set(recordTestStart(r.p, 2, [], T(8)));
  r.set(
    recordTestEnd(
      r.p,
      2,
      [
        { command: 'npm run smoke', code: 0, output: '' },
        { command: 'false', code: 1, output: '' },
      ],
      T(9),
    ),
  );
  const out = r.step(9);
  assert.deepEqual(out.actions, [{ type: 'revert', hosts: ['a', 'b', 'c'] }]);
  assert.equal(r.p.outcome!.message, 'the deploy tests failed after batch 3 of 3: "false" exited with code 1');
  assert.equal(r.p.tests[1]!.status, 'failed');
});

test('abort sends the changed hosts back and ends aborted; it is refused once rolling back', () => {
  const r = rollout(['a', 'b'], [['a'], ['b']], { canary: true });
  r.step(0);
  r.obs.set('a', up('v2', 1));
  r.step(2);
  r.set(applyCommand(r.p, 'abort', 'alice', T(3)));
  assert.deepEqual(r.step(3).actions, [{ type: 'revert', hosts: ['a'] }]);
  assert.throws(() => applyCommand(r.p, 'abort', 'bob', T(4)), {
    message: /^cannot abort: it is going back to the previous release already/,
  });
  r.obs.set('a', up('v1', 0));
  assert.deepEqual(r.step(5).actions, [
    { type: 'healthy', host: 'a', version: 'v1' },
    { type: 'end', status: 'aborted', message: 'aborted by alice; every changed host is back on its previous release' },
  ]);
  assert.deepEqual(hostResults(r.p), { a: 'reverted', b: 'skipped' });
  assert.throws(() => applyCommand(r.p, 'resume', 'bob', T(6)), { message: 'cannot resume: the deployment has ended (it is ended)' });
});

test('a host that cannot go back is named, and the deployment still ends', () => {
  const r = rollout(['a'], [['a']], { timeout: 5 });
  r.step(0);
  r.obs.set('a', failing('v2', 'boom'));
  r.step(1);
  assert.deepEqual(r.step(7).actions, [
    { type: 'end', status: 'rolled_back', message: '1 host(s) failed in batch 1 of 1: a: boom; a could not go back (see hostResults)' },
  ]);
  assert.equal(hostResults(r.p).a, 'failed: could not go back to v1: not back within 5s');
});

// ---- undeploy: the same machine, with nothing as the target

const gone: HostObservation = { processes: [], failure: undefined };
const U = { undeploy: true, version: 'v1' } as const;

test('an undeploy stops the hosts batch by batch: a host succeeds once it reports none of the processes', () => {
  const r = rollout(['a', 'b', 'c'], [['a'], ['b', 'c']], {}, false);
  assert.deepEqual(r.step(0, U), { actions: [{ type: 'deploy', hosts: ['a'] }], log: ['batch 1 of 2: a'], phase: 'deploying', batch: 0 });
  r.obs.set('a', up('v1', 0, { pid: 41 }));
  assert.deepEqual(r.step(1, U).actions, [], 'a still runs');
  assert.equal(r.p.hosts.a!.reason, 'still running: web v1 (pid 41)');
  r.obs.set('a', gone);
  assert.deepEqual(r.step(2, U), {
    actions: [{ type: 'deploy', hosts: ['b', 'c'] }],
    log: ['a stopped v1', 'batch 2 of 2: b, c'],
    phase: 'deploying',
    batch: 1,
  });
  r.obs.set('b', gone);
  r.obs.set('c', gone);
  assert.deepEqual(r.step(3, U), {
    actions: [{ type: 'end', status: 'succeeded', message: null }],
    log: ['b stopped v1', 'c stopped v1', 'succeeded'],
    phase: 'done',
    batch: 1,
  });
  assert.deepEqual(r.p.hosts.a, {
    state: 'succeeded',
    batch: 0,
    reason: null,
    startedAt: iso(0),
    healthySince: null,
    endedAt: iso(2),
    downloaded: null,
  });
  assert.deepEqual(hostResults(r.p), { a: 'succeeded', b: 'succeeded', c: 'succeeded' });
});

test('an undeploy whose host does not stop in time fails; on_failure rollback keeps it (and any stopped one) running', () => {
  const r = rollout(['a', 'b'], [['a'], ['b']], { timeout: 60 });
  r.step(0, U);
  r.obs.set('a', up('v1', 0, { pid: 7 }));
  const why = 'not stopped within 1m: still running: web v1 (pid 7)';
  assert.deepEqual(r.step(60, U), {
    // a never stopped, so it is back at once
    actions: [
      { type: 'revert', hosts: ['a'] },
      { type: 'healthy', host: 'a', version: 'v1' },
      {
        type: 'end',
        status: 'rolled_back',
        message: `1 host(s) failed in batch 1 of 2: a: ${why}; every changed host is back on its previous release`,
      },
    ],
    log: [
      `a failed: ${why}`,
      `1 host(s) failed in batch 1 of 2: a: ${why}; sending a back to the previous release`,
      'a is back on v1',
      `rolled back: 1 host(s) failed in batch 1 of 2: a: ${why}; every changed host is back on its previous release`,
    ],
    phase: 'done',
    batch: 0,
  });
  assert.deepEqual(hostResults(r.p), { a: `reverted after failing: ${why}`, b: 'skipped' });
});

test('an undeploy whose before-stop hook failed (a balancer did not drain the host) fails that host at once, not at the timeout', () => {
  const r = rollout(['a', 'b'], [['a'], ['b']], { timeout: 300 });
  r.step(0, U);
  r.obs.set('a', up('v1', 0, { pid: 7 }));
  const why = 'the before-stop hook failed: draining a from pool web failed';
  const out = r.step(1, { ...U, hookFailures: new Map([['a', why]]) });
  assert.equal(out.log[0], `a failed: ${why}`);
  assert.equal(out.actions.at(-1)?.type, 'end');
  assert.deepEqual(hostResults(r.p), { a: `reverted after failing: ${why}`, b: 'skipped' });
});

test('an undeploy with on_failure stop ends failed and leaves the stopped hosts stopped', () => {
  const r = rollout(['a', 'b'], [['a', 'b']], { timeout: 60, on_failure: 'stop', max_failures: 0 });
  r.step(0, U);
  r.obs.set('a', gone);
  r.obs.set('b', up('v1', 0, { pid: 9 }));
  assert.deepEqual(r.step(60, U).actions, [
    {
      type: 'end',
      status: 'failed',
      message:
        '1 host(s) failed in batch 1 of 1: b: not stopped within 1m: still running: web v1 (pid 9); stopped (on_failure: stop): a stopped v1',
    },
  ]);
  assert.deepEqual(hostResults(r.p), { a: 'succeeded', b: 'failed: not stopped within 1m: still running: web v1 (pid 9)' });
});

test('an aborted undeploy starts the hosts it stopped again and ends aborted', () => {
  const r = rollout(['a', 'b'], [['a'], ['b']]);
  r.step(0, U);
  r.obs.set('a', gone);
  r.step(1, U);
  r.set(applyCommand(r.p, 'abort', 'alice', T(2)));
  assert.deepEqual(r.step(2, U), {
    actions: [{ type: 'revert', hosts: ['a', 'b'] }],
    log: ['aborted by alice; sending a, b back to the previous release'],
    phase: 'reverting',
    batch: 1,
  });
  r.obs.set('a', up('v1', 3));
  r.obs.set('b', up('v1', 0));
  assert.deepEqual(r.step(4, U), {
    actions: [
      { type: 'healthy', host: 'a', version: 'v1' },
      { type: 'healthy', host: 'b', version: 'v1' },
      {
        type: 'end',
        status: 'aborted',
        message: 'aborted by alice; every changed host is back on its previous release',
      },
    ],
    log: ['a is back on v1', 'b is back on v1', 'aborted by alice; every changed host is back on its previous release'],
    phase: 'done',
    batch: 1,
  });
});

test('a step changes nothing it was given, and shares the hosts it did not change: the changed ones are found by identity', () => {
  const r = rollout(['a', 'b', 'c'], [['a'], ['b', 'c']]);
  const start = r.p;
  const frozen = structuredClone(start);
  r.step(0);
  assert.deepEqual(start, frozen, 'the progress given is as it was');
  assert.deepEqual(changedHosts(start, r.p), ['a']);
  assert.equal(r.p.hosts.b, start.hosts.b, 'a host of a later batch is the same entry');
  const waiting = r.p;
  r.step(1);
  assert.deepEqual(changedHosts(waiting, r.p), [], 'a report that changes nothing changes no host');
  assert.equal(r.p.hosts, waiting.hosts, 'nor copies the map of hosts (10,000 hosts at every round)');
  r.obs.set('a', up('v2', 2));
  const before = r.p;
  r.step(3);
  assert.deepEqual(changedHosts(before, r.p), ['a', 'b', 'c']);
  // a person's command changes the deployment, not its hosts
  const paused = applyCommand(r.p, 'pause', 'alice', T(4));
  assert.deepEqual(changedHosts(r.p, paused), []);
  assert.equal(paused.paused, true);
  assert.equal(r.p.paused, false, 'the command copied what it changed');
});

test('a step told which hosts reported evaluates only those of the hosts in flight, and ends where a step that evaluates all does', () => {
  const hosts = ['a', 'b', 'c', 'd'];
  const all = rollout(hosts, [hosts], { max_failures: 1 });
  const some = rollout(hosts, [hosts], { max_failures: 1 });
  assert.deepEqual(some.step(0, { changed: new Set() }), all.step(0), 'a new batch is evaluated whole');
  for (const r of [all, some]) {
    r.obs.set('a', up('v2', 1));
    r.obs.set('b', failing('v2', 'boom'));
  }
  assert.deepEqual(some.step(2, { changed: new Set(['a', 'b']) }), all.step(2));
  assert.deepEqual(some.p, all.p);
  // c's report changed, but no one said so: c keeps its state until it is named
  some.obs.set('c', up('v2', 3));
  assert.equal(some.step(4, { changed: new Set() }).actions.length, 0);
  assert.equal(some.p.hosts.c!.state, 'deploying');
  all.obs.set('c', up('v2', 3));
  all.obs.set('d', up('v2', 3));
  some.obs.set('d', up('v2', 3));
  assert.deepEqual(some.step(5, { changed: new Set(['c', 'd']) }), all.step(5));
  assert.deepEqual(some.p, all.p);
  // past the deadline every host in flight is evaluated, named or not
  const late = rollout(['x', 'y'], [['x', 'y']], { timeout: 10 });
  late.step(0);
  late.obs.set('x', up('v2', 1));
  late.step(2, { changed: new Set(['x']) });
  assert.equal(late.step(20, { changed: new Set() }).phase, 'reverting');
  assert.match(late.p.hosts.y!.reason ?? '', /not healthy within 10s/);
});

test('a step given its map of hosts writes the entries it replaces into it, and names them; the entries stay copy on write', () => {
  const owned = rollout(['a', 'b', 'c'], [['a'], ['b', 'c']]);
  const copied = rollout(['a', 'b', 'c'], [['a'], ['b', 'c']]);
  const map = owned.p.hosts;
  const entryA = map.a;
  const r = step(owned.p, { version: 'v2', previous: {}, expected: ['web'], obs: owned.obs, now: T(0), graceUntil: 0, hostsOwned: true });
  assert.equal(r.progress.hosts, map, 'the same map, not a copy');
  assert.deepEqual(r.changed, ['a']);
  assert.notEqual(map.a, entryA, 'the entry replaced, not changed');
  assert.equal(entryA!.state, 'queued');
  assert.equal(r.before.get('a'), entryA, 'the entry it replaced, to put back if the step is not carried out');
  // the same step without the map: the same progress, the same hosts named
  const c = step(copied.p, { version: 'v2', previous: {}, expected: ['web'], obs: copied.obs, now: T(0), graceUntil: 0 });
  assert.notEqual(c.progress.hosts, copied.p.hosts);
  assert.deepEqual(c.changed, ['a']);
  assert.deepEqual(c.progress, r.progress);
  assert.deepEqual(
    step(r.progress, { version: 'v2', previous: {}, expected: ['web'], obs: owned.obs, now: T(1), graceUntil: 0 }).changed,
    [],
  );
});

test('a log line names at most LOG_HOSTS hosts and counts the rest; the deploy action and the failure keep every host', () => {
  const hosts = Array.from({ length: LOG_HOSTS + 1_234 }, (_, i) => `h${i}`);
  const r = rollout(hosts, [hosts], { on_failure: 'stop' });
  const first = r.step(0);
  assert.deepEqual(first.actions, [{ type: 'deploy', hosts }], 'the action names every host');
  assert.deepEqual(first.log, [`batch 1 of 1: ${hosts.slice(0, LOG_HOSTS).join(', ')} and 1,234 more`]);
  for (const h of hosts) r.obs.set(h, failing('v2', 'boom'));
  const end = r.step(1).actions.find((a) => a.type === 'end');
  assert.ok(end?.type === 'end');
  const named = hosts
    .slice(0, LOG_HOSTS)
    .map((h) => `${h}: boom`)
    .join('; ');
  assert.equal(
    end.message,
    `${hosts.length} host(s) failed in batch 1 of 1: ${named}; and 1,234 more (see hostResults); stopped (on_failure: stop)`,
  );
  assert.equal(hostResults(r.p)[hosts.at(-1)!], 'failed: boom', 'each host keeps its own result');
  assert.equal(hostNames(['a', 'b']), 'a, b', 'a short list is named whole, as before');
});
