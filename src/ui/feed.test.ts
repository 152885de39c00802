import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentEvent, DeploymentSummary, DeploymentView } from '../api/index.js';
import { streamingFeed, summaryFeed } from './feed.js';

function view(status: DeploymentView['status'], hostResults: Record<string, string>): DeploymentView {
  return {
    id: 7,
    tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.f',
    version: 'abcdef123',
    kind: 'deploy',
    initiator: 'admin',
    startedAt: '2024-01-01T00:00:00Z',
    endedAt: status === 'running' ? null : '2024-01-01T00:00:09Z',
    hostCount: 2,
    hosts: ['h1', 'h2'],
    status,
    previous: { h1: null, h2: null },
    hostResults,
    message: null,
    conf: {},
    progress: null,
  };
}
const ev = (d: DeploymentView): DeploymentEvent => ({ type: 'deployment', deployment: d });

test('reports each change once, skips log lines, and stops when the deployment ends', async () => {
  let opened = 0;
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    streamingFeed(async function* (id) {
      assert.equal(id, 7);
      opened++;
      yield ev(view('running', { h1: 'pending', h2: 'pending' }));
      yield { type: 'log', line: { at: '2024-01-01T00:00:01Z', message: 'batch 1 of 2' } };
      yield ev(view('running', { h1: 'pending', h2: 'pending' }));
      yield ev(view('running', { h1: 'succeeded', h2: 'pending' }));
      yield ev(view('succeeded', { h1: 'succeeded', h2: 'succeeded' }));
      yield ev(view('succeeded', { h1: 'succeeded', h2: 'succeeded' }));
    }, 1).follow(7, {
      view: (d) => {
        seen.push(`${d.status} ${d.hostResults.h1} ${d.hostResults.h2}`);
        if (d.status !== 'running') setTimeout(resolve, 20);
      },
      error: (e) => assert.fail(e),
    });
  });
  assert.deepEqual(seen, ['running pending pending', 'running succeeded pending', 'succeeded succeeded succeeded']);
  assert.equal(opened, 1, 'not opened again after the end');
});

test('a stream that breaks or ends early is opened again, and the error is reported', async () => {
  let opened = 0;
  const errors: string[] = [];
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    streamingFeed(async function* () {
      opened++;
      if (opened === 1) throw new Error('cannot reach the noops server');
      if (opened === 2) {
        yield ev(view('running', { h1: 'pending', h2: 'pending' }));
        return; // the connection dropped
      }
      yield ev(view('running', { h1: 'pending', h2: 'pending' }));
      yield ev(view('failed', { h1: 'failed: boom', h2: 'pending' }));
    }, 1).follow(7, {
      view: (d) => {
        seen.push(d.status);
        if (d.status !== 'running') resolve();
      },
      error: (e) => errors.push(e.message),
    });
  });
  assert.equal(opened, 3);
  assert.deepEqual(errors, ['cannot reach the noops server']);
  assert.deepEqual(seen, ['running', 'failed'], 'the repeated first state after reconnecting is not reported twice');
});

test('stop aborts the stream and nothing is reported after it', async () => {
  let aborted = false;
  const seen: string[] = [];
  const stop = streamingFeed(async function* (_id, signal) {
    yield ev(view('running', { h1: 'pending', h2: 'pending' }));
    await new Promise<void>((r) =>
      signal.addEventListener('abort', () => {
        aborted = true;
        r();
      }),
    );
    yield ev(view('succeeded', { h1: 'succeeded', h2: 'succeeded' }));
  }, 1).follow(7, { view: (d) => seen.push(d.status), error: () => undefined });
  for (const deadline = Date.now() + 10_000; seen.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
  stop();
  for (const deadline = Date.now() + 10_000; !aborted && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20)); // a window for a view after the stop, which must not come
  assert.equal(aborted, true);
  assert.deepEqual(seen, ['running']);
});

test('the summary feed reports each new summary once and stops when the deployment ends', async () => {
  const summary = (status: DeploymentView['status'], index: number) =>
    ({ ...view(status, {}), states: {}, inFlight: [], failures: [], failureCount: 0, index }) as unknown as DeploymentSummary;
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    summaryFeed(async function* () {
      yield { type: 'summary', summary: summary('running', 1) };
      yield { type: 'log', line: { at: '2024-01-01T00:00:01Z', message: 'batch 1 of 2' } };
      yield { type: 'summary', summary: summary('running', 1) };
      yield { type: 'summary', summary: summary('succeeded', 2) };
    }, 1).follow(7, {
      view: (s) => {
        seen.push(`${s.status} ${s.index}`);
        if (s.status !== 'running') setTimeout(resolve, 20);
      },
      error: (e) => assert.fail(e),
    });
  });
  assert.deepEqual(seen, ['running 1', 'succeeded 2']);
});
