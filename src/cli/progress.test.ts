import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { DeploymentSummary, DeploymentSummaryEvent, DeploymentView, RolloutProgress } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { follow, type SummarySource } from './follow.js';
import { batchLine, countsLine, describe, HEADLINE_HOSTS_MAX, headline, PlainRenderer } from './progress.js';
import { statusText } from './commands/deploy.js';

const at = (s: number): string => new Date(Date.parse('2024-05-01T12:00:00.000Z') + s * 1000).toISOString();
const hp = (state: RolloutProgress['hosts'][string]['state'], batch: number) => ({
  state,
  batch,
  reason: null,
  startedAt: null,
  healthySince: null,
  endedAt: null,
  downloaded: null,
});

function view(over: Partial<DeploymentView> = {}, p: Partial<RolloutProgress> = {}): DeploymentView {
  const progress: RolloutProgress = {
    policy: {
      batch: [1],
      pause: 0,
      healthy_for: 0,
      timeout: 300,
      max_failures: 0,
      on_failure: 'rollback',
      canary: false,
      canary_wait: null,
      test_timeout: 300,
    },
    batches: [['h1'], ['h2', 'h3']],
    batch: 1,
    phase: 'deploying',
    phaseSince: at(0),
    paused: false,
    promoted: false,
    abort: null,
    outcome: null,
    hosts: { h1: hp('succeeded', 0), h2: hp('deploying', 1), h3: hp('failed', 1) },
    tests: [],
    hasTests: false,
    log: [{ at: at(1), message: 'batch 1 of 2: h1' }],
    ...p,
  };
  return {
    id: 7,
    tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.f',
    version: 'abc123def',
    kind: 'deploy',
    initiator: 'alice',
    startedAt: at(0),
    endedAt: null,
    hostCount: 3,
    hosts: ['h1', 'h2', 'h3'],
    status: 'running',
    previous: {},
    hostResults: { h1: 'succeeded', h2: 'deploying', h3: 'failed: boom' },
    message: null,
    conf: {},
    progress,
    ...over,
  };
}

test("where a deployment is, and each batch's hosts, in words", () => {
  const d = view();
  assert.equal(describe(d.progress!), 'deploying batch 2 of 2');
  assert.equal(describe({ ...d.progress!, phase: 'canary', paused: true }), 'waiting at the canary for `noops deploy promote` (paused)');
  assert.equal(batchLine(d.progress!, 1), 'h2 …  h3 ✗');
  assert.equal(
    statusText(d, 1),
    [
      'deploy #7: cop.a_owt.b_pdl.c_service.d_job.e_cluster.f -> abc123def on 3 host(s) in 2 batch(es): h1 | h2,h3',
      `  status: running: deploying batch 2 of 2 (started by alice at ${at(0)})`,
      '  batch 1: h1 ✓',
      '  batch 2: h2 …  h3 ✗',
      '  h3: failed: boom',
      '  12:00:01 batch 1 of 2: h1',
      '',
    ].join('\n'),
  );
});

/** The summary of a view, as the server works it out for these few hosts. */
function summary(d: DeploymentView): DeploymentSummary {
  const { hosts: _h, previous: _p, hostResults: _r, progress, ...rest } = d;
  return {
    ...rest,
    states: {},
    progress: progress && { ...progress, batches: progress.batches.map((b) => ({ size: b.length, states: {} })) },
    inFlight: [],
    failures: [],
    failureCount: 0,
    index: d.status === 'running' ? 1 : 2,
  } as unknown as DeploymentSummary;
}

test('a large plan is told in sizes, a small one by names; a batch in counts and the names of its hosts in flight', () => {
  const many = Array.from({ length: HEADLINE_HOSTS_MAX + 1 }, (_, i) => `h${i}`);
  assert.equal(
    headline(view({ hostCount: many.length }, { batches: [many.slice(0, 1), many.slice(1)] })),
    `deploy #7: cop.a_owt.b_pdl.c_service.d_job.e_cluster.f -> abc123def on ${many.length} host(s) in 2 batch(es) of 1, ${HEADLINE_HOSTS_MAX} host(s)`,
  );
  assert.equal(countsLine({ succeeded: 98, failed: 2 }), '✓ 98  ✗ 2');
  assert.equal(countsLine({ deploying: 8, queued: 1 }, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']), '· 1  … 8  (a b c d e f …)');
  assert.equal(countsLine({}), '');
});

test('follow: renders the stream, connects again when it breaks, and ends with the deployment', async () => {
  const start = view();
  const endedView = view(
    { status: 'rolled_back', message: 'h3 failed', endedAt: at(9) },
    { phase: 'done', log: [...start.progress!.log, { at: at(2), message: 'h3 failed: boom' }, { at: at(9), message: 'rolled back' }] },
  );
  let connects = 0;
  const api: SummarySource = {
    async *events(): AsyncGenerator<DeploymentSummaryEvent> {
      connects++;
      if (connects === 1) {
        yield { type: 'summary', summary: summary(start) };
        yield { type: 'log', line: { at: at(2), message: 'h3 failed: boom' } };
        throw new TypeError('terminated'); // the server went away mid-stream
      }
      if (connects === 2) throw new NoopsError('NOOPS_E_SERVER_UNREACHABLE', 'cannot reach the noops server');
      yield { type: 'summary', summary: summary(endedView) };
    },
    async summary(): Promise<DeploymentSummary> {
      return summary(connects >= 2 ? endedView : start);
    },
  };
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => {
    text += b.toString();
  });
  const d = await follow(api, start, new PlainRenderer(out));
  assert.equal(d.status, 'rolled_back');
  const lines = text.split('\n').map((l) => l.replace(/^ {2}\d\d:\d\d:\d\d /, ''));
  assert.deepEqual(
    lines.filter((l) => !l.startsWith('lost the server')),
    [
      'deploy #7: cop.a_owt.b_pdl.c_service.d_job.e_cluster.f -> abc123def on 3 host(s) in 2 batch(es): h1 | h2,h3',
      'batch 1 of 2: h1',
      'h3 failed: boom',
      'rolled back',
      'deploy #7 rolled back: h3 failed',
      '',
    ],
    'every log line once, in order',
  );
  assert.equal(lines.filter((l) => l.startsWith('lost the server (terminated)')).length, 1);
});

test('follow: an answer of the server itself (not a broken connection) is thrown', async () => {
  const api: SummarySource = {
    // biome-ignore lint/correctness/useYield: a stream that fails before its first event
    async *events(): AsyncGenerator<DeploymentSummaryEvent> {
      throw new NoopsError('NOOPS_E_FORBIDDEN', 'no');
    },
    summary: () => Promise.reject(new Error('not asked')),
  };
  await assert.rejects(follow(api, view(), new PlainRenderer(new PassThrough())), { code: 'NOOPS_E_FORBIDDEN' });
});
