import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostProgress, RolloutProgress } from '../../api/index.js';
import type { DeploymentRow } from '../../store/index.js';
import { deploymentSummary, hostPage } from './deploy-summary.js';

const hp = (state: HostProgress['state'], batch: number, reason: string | null = null): HostProgress => ({
  state,
  batch,
  reason,
  startedAt: null,
  healthySince: null,
  endedAt: null,
  downloaded: null,
});

/** A deployment of `n` hosts in batches of `size`, the first batches done, one host failed; queued hosts have no entry (as stored). */
function row(n: number, size: number): DeploymentRow {
  const names = Array.from({ length: n }, (_, i) => `h${String(i).padStart(5, '0')}`);
  const batches: string[][] = [];
  for (let i = 0; i < n; i += size) batches.push(names.slice(i, i + size));
  const hosts: Record<string, HostProgress> = {};
  batches[0]!.forEach((h, i) => {
    hosts[h] = i === 3 ? hp('failed', 0, 'not healthy within 300s') : hp('succeeded', 0);
  });
  batches[1]!.forEach((h, i) => {
    hosts[h] = hp(i % 2 ? 'healthy' : 'deploying', 1);
  });
  const progress = {
    policy: {} as RolloutProgress['policy'],
    batches,
    batch: 1,
    phase: 'deploying',
    phaseSince: '2026-12-04T20:00:00.000Z',
    paused: false,
    promoted: false,
    abort: null,
    outcome: null,
    hosts,
    tests: [],
    hasTests: false,
    log: [{ at: '2026-12-04T20:00:00.000Z', message: 'batch 2 of 10' }],
  } satisfies RolloutProgress;
  return {
    id: 9,
    tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.f',
    version: 'abcdef001',
    kind: 'deploy',
    initiator: 'alice',
    startedAt: '2026-12-04T20:00:00.000Z',
    endedAt: null,
    hosts: names,
    status: 'running',
    previous: Object.fromEntries(names.map((h) => [h, 'abcdef000'])),
    hostResults: Object.fromEntries(Object.entries(hosts).map(([h, p]) => [h, p.state === 'failed' ? `failed: ${p.reason}` : p.state])),
    conf: {},
    message: null,
    deadline: '2026-12-04T20:05:00.000Z',
    progress: progress as unknown as Record<string, unknown>,
  };
}

test('a summary counts every host by state and batch, lists those in flight and the failures, capped, and is small at 10,000 hosts', () => {
  const d = row(10_000, 1000);
  const s = deploymentSummary(d);
  assert.deepEqual(s.states, { succeeded: 999, failed: 1, deploying: 500, healthy: 500, queued: 8000 });
  assert.equal(s.progress!.batches.length, 10);
  assert.deepEqual(s.progress!.batches[0], { size: 1000, states: { succeeded: 999, failed: 1 } });
  assert.deepEqual(s.progress!.batches[9], { size: 1000, states: { queued: 1000 } });
  assert.equal(s.inFlight.length, 50);
  assert.deepEqual(
    s.inFlight.slice(0, 2).map((h) => [h.host, h.state, h.previous, h.result]),
    [
      ['h01000', 'deploying', 'abcdef000', 'deploying'],
      ['h01001', 'healthy', 'abcdef000', 'healthy'],
    ],
  );
  assert.deepEqual(
    s.failures.map((h) => [h.host, h.result]),
    [['h00003', 'failed: not healthy within 300s']],
  );
  assert.equal(s.failureCount, 1);
  const bytes = JSON.stringify(s).length;
  assert.ok(bytes < 20_000, `${bytes} bytes`);
  assert.ok(JSON.stringify(d).length > 30 * bytes, `the whole deployment is ${JSON.stringify(d).length} bytes`);
});

test('the summary is worked out once per change of the row, and its index moves exactly with its content', () => {
  const d = row(100, 10);
  const s = deploymentSummary(d);
  assert.equal(deploymentSummary(d), s, 'the same object while the row did not change');
  const p = d.progress as unknown as RolloutProgress;
  d.progress = { ...p, hosts: { ...p.hosts, h00010: hp('succeeded', 1) } } as unknown as Record<string, unknown>;
  const next = deploymentSummary(d);
  assert.notEqual(next.index, s.index);
  assert.equal(deploymentSummary(row(100, 10)).index, s.index, 'the same content, the same index (any server)');
  d.status = 'failed';
  assert.equal(deploymentSummary(d).status, 'failed', 'a status change is seen with the same progress');
});

test('a deployment from before batched rollouts has no progress: its hosts by their results', () => {
  const d: DeploymentRow = { ...row(3, 1), progress: {}, hosts: ['a', 'b', 'c'], hostResults: { a: 'succeeded', b: 'failed: boom' } };
  const s = deploymentSummary(d);
  assert.equal(s.progress, null);
  assert.deepEqual(s.states, { succeeded: 1, failed: 1, queued: 1 });
  assert.deepEqual(
    hostPage(d, { limit: 10 }).hosts.map((h) => `${h.host} ${h.state} ${h.result}`),
    ['a succeeded succeeded', 'b failed failed: boom', 'c queued queued'],
  );
});

test('pages walk every host once, in plan order, whatever the filter', () => {
  const d = row(95, 10);
  const walk = (q: { states?: HostProgress['state'][]; batch?: number }): string[] => {
    const out: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = hostPage(d, { ...q, after, limit: 7 });
      out.push(...page.hosts.map((h) => h.host));
      if (page.next === undefined) return out;
      after = page.next;
    }
  };
  assert.deepEqual(walk({}), d.hosts);
  assert.equal(walk({ states: ['queued'] }).length, 75);
  assert.deepEqual(walk({ states: ['failed'] }), ['h00003']);
  assert.deepEqual(walk({ batch: 9 }), d.hosts.slice(90));
  assert.throws(() => hostPage(d, { batch: 10, limit: 1 }), { code: 'NOOPS_E_INPUT' });
  assert.throws(() => hostPage(d, { after: 'nobody', limit: 1 }), { code: 'NOOPS_E_INPUT' });
});
