/**
 * `GET /deployments/:id/summary` (blocking with `?index=&wait=`) and `GET /deployments/:id/hosts`
 * (paged, filtered) through `inject()`, on a running deployment of three hosts in batches of one.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentHostView, DeploymentSummary } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp, until, upProcess } from '../test-app.js';
import { parkedSummaries } from './deploy-views.js';

let t: TestApp;
const agents: Record<string, string> = {};
let id: number;

before(async () => {
  t = await startTestApp();
  for (const h of ['h1', 'h2', 'h3']) agents[h] = await t.agent(h);
  await t.release(TREE.JOB, 'abcdef001');
  await t.cluster(TREE.CLUSTER, ['h1', 'h2', 'h3']);
  const res = await t.call(t.adminToken, 'POST', '/api/v1/deployments', {
    tag: TREE.CLUSTER,
    version: 'abcdef001',
    policy: { batch: [1], timeout: 600 },
  });
  assert.equal(res.statusCode, 202, res.body);
  id = res.json().id;
  await until('the first batch to start', async () => (await summary()).progress?.phase === 'deploying');
});
after(() => t.close());

async function summary(query = ''): Promise<DeploymentSummary> {
  const res = await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/summary${query}`);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['x-noops-index'], String(res.json().index));
  return res.json();
}

routeTest(
  'GET /api/v1/deployments/:id/summary',
  "a running deployment's counts per state, batches as counts, the hosts in flight, without its hosts' lists",
  async () => {
    const s = await summary();
    assert.deepEqual([s.id, s.status, s.hostCount, s.version], [id, 'running', 3, 'abcdef001']);
    assert.deepEqual(s.states, { deploying: 1, queued: 2 });
    assert.deepEqual(s.progress?.batches, [
      { size: 1, states: { deploying: 1 } },
      { size: 1, states: { queued: 1 } },
      { size: 1, states: { queued: 1 } },
    ]);
    assert.deepEqual(
      s.inFlight.map((h) => [h.host, h.state, h.batch, h.previous]),
      [['h1', 'deploying', 0, null]],
    );
    assert.deepEqual([s.failures, s.failureCount], [[], 0]);
    for (const field of ['hosts', 'hostResults', 'previous']) assert.equal(field in s, false, `no ${field}`);
    assert.equal('hosts' in s.progress!, false);
    assert.ok(s.progress!.log.length > 0, 'the log is in it');
    assert.equal((await summary()).index, s.index, 'the same summary, the same index');
    const whole = (await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}`)).json();
    assert.deepEqual(whole.hosts, ['h1', 'h2', 'h3'], 'the whole view is unchanged');
  },
);

routeTest(
  'GET /api/v1/deployments/:id/summary',
  'bad parameters are 400 naming them; another team or a missing id 404; people only',
  async () => {
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/summary?index=x`), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/summary?index=1&wait=soon`), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/summary?hosts=all`), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(await t.team(TREE.MAIL, 'admin'), 'GET', `/api/v1/deployments/${id}/summary`), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/deployments/999/summary'), 404, 'NOOPS_E_NOT_FOUND');
    assert.equal((await t.call(await t.team(TREE.WEB, 'viewer'), 'GET', `/api/v1/deployments/${id}/summary`)).statusCode, 200);
    await assertPeopleOnly(t, 'GET', `/api/v1/deployments/${id}/summary`, undefined, agents.h1!);
  },
);

async function hosts(query: string): Promise<{ names: string[]; next: string | undefined; rows: DeploymentHostView[] }> {
  const res = await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/hosts${query}`);
  assert.equal(res.statusCode, 200, res.body);
  const rows = res.json() as DeploymentHostView[];
  return { names: rows.map((r) => r.host), next: res.headers['x-noops-next'] as string | undefined, rows };
}

routeTest(
  'GET /api/v1/deployments/:id/hosts',
  'the hosts in plan order, paged by ?limit=&after=, filtered by ?state= and ?batch=',
  async () => {
    const all = await hosts('');
    assert.deepEqual([all.names, all.next], [['h1', 'h2', 'h3'], undefined]);
    assert.deepEqual(Object.keys(all.rows[1]!).sort(), [
      'batch',
      'downloaded',
      'endedAt',
      'healthySince',
      'host',
      'previous',
      'reason',
      'result',
      'startedAt',
      'state',
    ]);
    assert.deepEqual(await hosts('?limit=2'), { ...(await hosts('?limit=2')), names: ['h1', 'h2'], next: 'h2' });
    assert.deepEqual((await hosts('?after=h2&limit=2')).names, ['h3']);
    assert.equal((await hosts('?after=h2&limit=2')).next, undefined, 'the last page');
    assert.deepEqual((await hosts('?state=queued')).names, ['h2', 'h3']);
    assert.deepEqual((await hosts('?state=queued,deploying,healthy,succeeded')).names, ['h1', 'h2', 'h3']);
    assert.deepEqual((await hosts('?state=failed')).names, []);
    assert.deepEqual((await hosts('?batch=2')).names, ['h3']);
    assert.deepEqual((await hosts('?state=queued&limit=1')).next, 'h2');
  },
);

routeTest('GET /api/v1/deployments/:id/hosts', 'bad parameters are 400 naming them; another team 404; people only', async () => {
  for (const [q, words] of [
    ['?state=broken', /"broken" is not a host's state/],
    ['?after=h9', /has no host "h9"/],
    ['?batch=3', /has 3 batch\(es\)/],
    ['?batch=-1', /batch must be a whole number/],
    ['?limit=0', /limit must be a whole number of at least 1/],
    ['?offset=1', /unknown parameter "offset"/],
  ] as const) {
    const res = await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/hosts${q}`);
    assertError(res, 400, 'NOOPS_E_INPUT', q);
    assert.match(res.json().message, words);
  }
  assertError(await t.call(await t.team(TREE.MAIL, 'admin'), 'GET', `/api/v1/deployments/${id}/hosts`), 404, 'NOOPS_E_NOT_FOUND');
  await assertPeopleOnly(t, 'GET', `/api/v1/deployments/${id}/hosts`, undefined, agents.h1!);
});

routeTest(
  'GET /api/v1/history',
  '?view=summary: each deployment as its summary (the same as GET .../summary); without it, the whole deployments as before',
  async () => {
    const tag = encodeURIComponent(TREE.CLUSTER);
    const res = await t.call(t.adminToken, 'GET', `/api/v1/history?tag=${tag}&view=summary`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), [await summary()]);
    const [whole] = (await t.call(t.adminToken, 'GET', `/api/v1/history?tag=${tag}`)).json() as Record<string, unknown>[];
    assert.deepEqual(Object.keys(whole!).sort(), [
      'conf',
      'endedAt',
      'hostCount',
      'hostResults',
      'hosts',
      'id',
      'initiator',
      'kind',
      'message',
      'previous',
      'progress',
      'startedAt',
      'status',
      'tag',
      'version',
    ]);
    const bad = await t.call(t.adminToken, 'GET', `/api/v1/history?tag=${tag}&view=whole`);
    assertError(bad, 400, 'NOOPS_E_INPUT');
    assert.match(bad.json().message, /view is "summary"/);
  },
);

routeTest(
  'POST /api/v1/deployments/:id/:action',
  '?view=summary answers the summary, not the whole deployment; a view that is not "summary" is 400 and does nothing',
  async () => {
    assertError(await t.call(t.adminToken, 'POST', `/api/v1/deployments/${id}/pause?view=all`), 400, 'NOOPS_E_INPUT');
    assert.equal((await summary()).progress?.paused, false, 'refused: not paused');
    const paused = await t.call(t.adminToken, 'POST', `/api/v1/deployments/${id}/pause?view=summary`);
    assert.equal(paused.statusCode, 200, paused.body);
    const s = paused.json() as DeploymentSummary;
    assert.equal(s.progress?.paused, true);
    assert.deepEqual(s.states, { deploying: 1, queued: 2 });
    for (const field of ['hosts', 'hostResults', 'previous']) assert.equal(field in s, false, `no ${field}`);
    const resumed = await t.call(t.adminToken, 'POST', `/api/v1/deployments/${id}/resume`);
    assert.equal(resumed.statusCode, 200, resumed.body);
    assert.deepEqual(resumed.json().hosts, ['h1', 'h2', 'h3'], 'without the view: the whole deployment, as before');
  },
);

// Last: it moves the deployment on (h1 reports its release up).
routeTest(
  'GET /api/v1/deployments/:id/summary',
  '?index=N&wait= waits for the next change (woken by it, not by the wait), and answers the same index when its wait runs out',
  async () => {
    const first = await summary();
    const timedOut = await summary(`?index=${first.index}&wait=50ms`);
    assert.equal(timedOut.index, first.index, 'the wait ran out: the same summary');
    const parked = parkedSummaries.get(t.ctx)!;
    const started = Date.now();
    const waiting = summary(`?index=${first.index}&wait=60s`);
    await until('the request to park', () => parked.size === 1);
    assert.equal(parked.size, 1);
    const { generation } = (await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=-1')).json() as { generation: number };
    await t.report(agents.h1!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')], generation });
    const next = await waiting;
    assert.notEqual(next.index, first.index);
    assert.ok(Date.now() - started < 30_000, 'woken by the change');
    assert.equal(parked.size, 0);
    const asked = Date.now();
    await summary('?index=1&wait=5m'); // not the current index (an index is never 1 but by a 1-in-2^48 chance)
    assert.ok(Date.now() - asked < 60_000, 'an index that is not the current one is answered at once, not at its wait');
  },
);
