/** `GET /deployments/:id/events` through `inject()`: the stream of an ended deployment, and its refusals. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let id: number;

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  await t.release(TREE.JOB, 'abcdef001');
  await t.cluster(TREE.CLUSTER, ['h1']);
  id = (await t.deploy(TREE.CLUSTER, 'abcdef001', { h1: agent })).id;
});
after(() => t.close());

routeTest(
  'GET /api/v1/deployments/:id/events',
  'an ended deployment streams itself once as a server-sent event, then the stream ends',
  async () => {
    const res = await t.call(await t.team(TREE.WEB, 'viewer'), 'GET', `/api/v1/deployments/${id}/events`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const events = res.body.split('\n\n').filter((e) => e.trim() !== '');
    assert.equal(events.length, 1, res.body);
    assert.match(events[0]!, /^event: deployment\ndata: /);
    const d = JSON.parse(events[0]!.split('\ndata: ')[1]!);
    assert.deepEqual([d.id, d.status, d.version], [id, 'succeeded', 'abcdef001']);
  },
);

routeTest('GET /api/v1/deployments/:id/events', "another team's or a missing deployment is 404; no token 401, an agent 403", async () => {
  assertError(
    await t.call(await t.team(TREE.MAIL, 'admin'), 'GET', `/api/v1/deployments/${id}/events`),
    404,
    'NOOPS_E_NOT_FOUND',
    'another subtree',
  );
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/deployments/999/events'), 404, 'NOOPS_E_NOT_FOUND');
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/deployments/x/events'), 404, 'NOOPS_E_NOT_FOUND');
  await assertPeopleOnly(t, 'GET', `/api/v1/deployments/${id}/events`, undefined, agent);
});

routeTest(
  'GET /api/v1/deployments/:id/events',
  'an unknown query parameter is a 400 naming it (docs/security.md: every query string is checked)',
  async () => {
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/events?since=3`), 400, 'NOOPS_E_INPUT');
  },
);

routeTest(
  'GET /api/v1/deployments/:id/events',
  '?view=summary streams the summary (no list of every host) in place of the whole deployment; another view is a 400',
  async () => {
    const res = await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/events?view=summary`);
    assert.equal(res.statusCode, 200);
    const events = res.body.split('\n\n').filter((e) => e.trim() !== '');
    assert.equal(events.length, 1, res.body);
    assert.match(events[0]!, /^event: summary\ndata: /);
    const s = JSON.parse(events[0]!.split('\ndata: ')[1]!);
    assert.deepEqual([s.id, s.status, s.states, s.hostCount], [id, 'succeeded', { succeeded: 1 }, 1]);
    assert.equal('hostResults' in s, false);
    assert.equal(typeof s.index, 'number');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/deployments/${id}/events?view=all`), 400, 'NOOPS_E_INPUT');
  },
);
