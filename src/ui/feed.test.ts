import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentView } from '../api/types.js';
import { pollingFeed } from './feed.js';

function view(status: DeploymentView['status'], hostResults: Record<string, string>): DeploymentView {
  return {
    id: 7, tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.f', version: 'abcdef123', kind: 'deploy', initiator: 'admin',
    startedAt: '2024-01-01T00:00:00Z', endedAt: status === 'running' ? null : '2024-01-01T00:00:09Z', hostCount: 2, hosts: ['h1', 'h2'],
    status, previous: { h1: null, h2: null }, hostResults, message: null, conf: {},
  };
}

test('reports each change once and stops when the deployment ends', async () => {
  const answers = [
    view('running', { h1: 'pending', h2: 'pending' }),
    view('running', { h1: 'pending', h2: 'pending' }),
    view('running', { h1: 'succeeded', h2: 'pending' }),
    view('succeeded', { h1: 'succeeded', h2: 'succeeded' }),
  ];
  let reads = 0;
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    pollingFeed(async (id) => {
      assert.equal(id, 7);
      return answers[Math.min(reads++, answers.length - 1)]!;
    }, 1, 1).follow(7, {
      view: (d) => {
        seen.push(`${d.status} ${d.hostResults.h1} ${d.hostResults.h2}`);
        if (d.status !== 'running') setTimeout(resolve, 20);
      },
      error: (e) => assert.fail(e),
    });
  });
  assert.deepEqual(seen, ['running pending pending', 'running succeeded pending', 'succeeded succeeded succeeded']);
  assert.equal(reads, 4, 'no read after the end');
});

test('a failed read is reported and the feed keeps trying; stop ends it', async () => {
  let reads = 0;
  const errors: string[] = [];
  let stop = (): void => undefined;
  await new Promise<void>((resolve) => {
    stop = pollingFeed(async () => {
      reads++;
      if (reads === 1) throw new Error('cannot reach the noops server');
      return view('running', { h1: 'pending', h2: 'pending' });
    }, 1, 1).follow(7, { view: () => resolve(), error: (e) => errors.push(e.message) });
  });
  stop();
  const after = reads;
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(errors, ['cannot reach the noops server']);
  assert.ok(reads - after <= 1, 'at most the read in flight finishes after stop');
});
