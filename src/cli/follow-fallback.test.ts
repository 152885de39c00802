/**
 * A new client against an older server, which has no summaries: a stand-in HTTP server that
 * answers as servers before them did (no `/summary` nor `/hosts` route: 404; `?view=` on the
 * event stream and on the history: 400 naming the parameter; an action ignores it and answers
 * the whole deployment). Following a deployment, its status, the history and an action still
 * work, from the whole deployment summarized by the client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiClient,
  deploymentActionSummary,
  deploymentHosts,
  deploymentSummary,
  type DeploymentView,
  startSummary,
  encodeEvent,
  historySummaries,
  type RolloutProgress,
  refusesSummary,
  summaryOfView,
} from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { follow, summarySource } from './follow.js';

const hp = (state: RolloutProgress['hosts'][string]['state'], batch: number, reason: string | null = null) => ({
  state,
  batch,
  reason,
  startedAt: null,
  healthySince: null,
  endedAt: null,
  downloaded: null,
});

/** The deployment as the older server holds it: step by step, as its event stream sends it. */
function whole(step: 0 | 1): DeploymentView {
  const hosts: RolloutProgress['hosts'] =
    step === 0
      ? { h1: hp('deploying', 0), h2: hp('queued', 1), h3: hp('queued', 1) }
      : { h1: hp('succeeded', 0), h2: hp('succeeded', 1), h3: hp('failed', 1, 'exited 1') };
  return {
    id: 7,
    tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.f',
    version: 'abc123def',
    kind: 'deploy',
    initiator: 'alice',
    startedAt: '2026-12-04T12:00:00.000Z',
    endedAt: step === 0 ? null : '2026-12-04T12:01:00.000Z',
    hostCount: 3,
    hosts: ['h1', 'h2', 'h3'],
    status: step === 0 ? 'running' : 'failed',
    previous: { h1: 'fedcba987', h2: null, h3: 'fedcba987' },
    hostResults: { h1: hosts.h1!.state, h2: hosts.h2!.state, h3: step === 0 ? 'queued' : 'failed: exited 1' },
    message: step === 0 ? null : '1 host(s) failed',
    conf: {},
    progress: {
      policy: {
        batch: [1],
        pause: 0,
        healthy_for: 0,
        timeout: 300,
        max_failures: 0,
        on_failure: 'stop',
        canary: false,
        canary_wait: null,
        test_timeout: 300,
      },
      batches: [['h1'], ['h2', 'h3']],
      batch: step,
      phase: step === 0 ? 'deploying' : 'done',
      phaseSince: '2026-12-04T12:00:00.000Z',
      paused: false,
      promoted: false,
      abort: null,
      outcome: null,
      hosts,
      tests: [],
      hasTests: false,
      log: [{ at: '2026-12-04T12:00:00.000Z', message: 'batch 1 of 2: h1' }],
    },
  } as DeploymentView;
}

/** What the stand-in was asked, in order: method and path with its query. */
const asked: string[] = [];
let server: Server;
let api: ApiClient;

function refuse(res: import('node:http').ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message }));
}

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    asked.push(`${req.method} ${url.pathname}${url.search}`);
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const json = (data: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(data));
    if (url.searchParams.has('view') && req.method === 'GET') {
      const what = path === '/history' ? 'history' : 'deployment events';
      return refuse(res, 400, 'NOOPS_E_INPUT', `${what}: unknown parameter "view"`);
    }
    if (req.method === 'GET' && path === '/deployments/7') return json(whole(1));
    if (req.method === 'GET' && path === '/history') return json([whole(1)]);
    if (req.method === 'POST' && path === '/deployments/7/pause') return json(whole(0)); // ignores ?view
    if (req.method === 'POST' && path === '/deployments')
      return res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify(whole(0))); // ignores ?view
    if (req.method === 'GET' && path === '/deployments/7/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(encodeEvent('deployment', whole(0)));
      res.write(encodeEvent('log', { at: '2026-12-04T12:00:30.000Z', message: 'batch 2 of 2: h2,h3' }));
      res.end(encodeEvent('deployment', whole(1)));
      return;
    }
    refuse(res, 404, 'NOOPS_E_NOT_FOUND', `no route ${req.method} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'token');
});
after(() => new Promise<void>((r) => server.close(() => r())));

describe('a new client against a server without summaries', () => {
  it('follows a deployment through the whole deployment stream, summarized', async () => {
    asked.length = 0;
    const seen: string[] = [];
    const end = await follow(summarySource(api), whole(0), {
      start: () => {},
      update: (s) => seen.push(`${s.status} ${JSON.stringify(s.states)}`),
      log: (l) => seen.push(l.message),
      close: () => {},
    });
    assert.equal(end.status, 'failed');
    assert.deepEqual(end.states, { succeeded: 2, failed: 1 });
    assert.deepEqual(
      end.failures.map((f) => [f.host, f.result, f.previous]),
      [['h3', 'failed: exited 1', 'fedcba987']],
    );
    assert.equal(end.failureCount, 1);
    assert.deepEqual(seen, [
      'batch 1 of 2: h1',
      'running {"queued":2,"deploying":1}',
      'batch 2 of 2: h2,h3',
      'failed {"succeeded":2,"failed":1}',
    ]);
    assert.deepEqual(asked, ['GET /api/v1/deployments/7/events?view=summary', 'GET /api/v1/deployments/7/events']);
  });

  it('reads a summary, the history and a page of hosts from the whole deployment', async () => {
    const s = await deploymentSummary(api, 7);
    assert.deepEqual(s, summaryOfView(whole(1)));
    assert.deepEqual(s.progress?.batches, [
      { size: 1, states: { succeeded: 1 } },
      { size: 2, states: { succeeded: 1, failed: 1 } },
    ]);
    const [h] = await historySummaries(api, whole(1).tag, { limit: 1 });
    assert.deepEqual(h, s);
    const failed = await deploymentHosts(api, 7, { states: ['failed'] });
    assert.deepEqual(
      failed.map((f) => [f.host, f.batch, f.state, f.result]),
      [['h3', 1, 'failed', 'failed: exited 1']],
    );
    assert.deepEqual(
      (await deploymentHosts(api, 7, { after: 'h1', limit: 1 })).map((f) => f.host),
      ['h2'],
    );
  });

  it('an action answered with the whole deployment (the older server ignores ?view) comes back as its summary', async () => {
    const s = await deploymentActionSummary(api, 7, 'pause');
    assert.equal(s.status, 'running');
    assert.deepEqual(
      s.inFlight.map((h) => h.host),
      ['h1'],
    );
    assert.ok(!('hostResults' in s));
  });

  it('a deploy started with ?view=summary, answered whole (the older server ignores it), comes back as its summary, started once', async () => {
    asked.length = 0;
    const s = await startSummary(api, 'deploy', { tag: whole(0).tag, version: 'abc123def' });
    assert.deepEqual(s, summaryOfView(whole(0)));
    assert.deepEqual(asked, ['POST /api/v1/deployments?view=summary']);
  });

  it('waits for a change by reading again, and other refusals are not taken for an older server', async () => {
    const now = summaryOfView(whole(1));
    // ended: answered at once even with its own index
    assert.equal((await deploymentSummary(api, 7, { index: now.index, waitMs: 5_000 })).status, 'failed');
    await assert.rejects(deploymentSummary(api, 8), (err: NoopsError) => err.code === 'NOOPS_E_NOT_FOUND');
    assert.equal(refusesSummary(new NoopsError('NOOPS_E_NOT_FOUND', 'no deployment #8')), false);
    assert.equal(refusesSummary(new NoopsError('NOOPS_E_INPUT', 'history needs a cluster tag: ?tag=...')), false);
    assert.equal(refusesSummary(new NoopsError('NOOPS_E_INPUT', 'deployment events: unknown parameter "view"')), true);
  });
});
