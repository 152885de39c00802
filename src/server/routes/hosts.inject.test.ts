/** The admin's host routes through `inject()`: assign to a node, approve a join, remove. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let rootAdmin: string;

before(async () => {
  t = await startTestApp();
  for (const h of ['h1', 'h2', 'h3']) agents[h] = await t.agent(h);
  rootAdmin = await t.team(TREE.ROOT, 'admin');
});
after(() => t.close());

/** A team's token, even an admin of the root, is refused: these are the server admin's. */
async function serverAdminOnly(method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<void> {
  assertError(await t.call(rootAdmin, method, url, body), 403, 'NOOPS_E_FORBIDDEN', 'a team admin');
  await assertPeopleOnly(t, method, url, body, agents.h1!);
}

routeTest(
  'PUT /api/v1/hosts/:name/scope',
  "the admin assigns a host to a node (the host's view) and unassigns it with null; unknown hosts are 404",
  async () => {
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h1/scope', { scope: TREE.WEB });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().name, res.json().scope], ['h1', TREE.WEB]);
    assert.deepEqual(
      ((await t.call(await t.team(TREE.WEB, 'viewer'), 'GET', '/api/v1/hosts')).json() as { name: string }[]).map((h) => h.name),
      ['h1'],
    );
    assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h3/scope', { scope: null })).json().scope, null);
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/hosts/nope/scope', { scope: TREE.WEB }), 404, 'NOOPS_E_HOST_UNKNOWN');
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/hosts/-bad/scope', { scope: TREE.WEB }), 404, 'NOOPS_E_HOST_UNKNOWN');
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h1/scope', {}), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h1/scope', { scope: TREE.WEB, x: 1 }), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h1/scope', { scope: 'not a tag' }), 400, 'NOOPS_E_TAG_INVALID');
    await serverAdminOnly('PUT', '/api/v1/hosts/h1/scope', { scope: TREE.WEB });
  },
);

routeTest('POST /api/v1/hosts/:name/approve', "the admin lets the next join under a live host's name through", async () => {
  assert.equal((await t.report(agents.h2!, {})).statusCode, 200);
  assertError(await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'h2' }), 409, 'NOOPS_E_HOST_TAKEN');
  const res = await t.call(t.adminToken, 'POST', '/api/v1/hosts/h2/approve');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().name, 'h2');
  assert.ok(res.json().pendingJoin, 'the refused join is shown');
  assert.equal((await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'h2' })).statusCode, 200);
  assertError(await t.call(agents.h2!, 'GET', '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED', 'the replaced token');
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/nope/approve'), 404, 'NOOPS_E_HOST_UNKNOWN');
  await serverAdminOnly('POST', '/api/v1/hosts/h3/approve');
});

routeTest(
  'DELETE /api/v1/hosts/:name',
  'the admin forgets a host in no cluster (its token stops at once); one in a cluster is 400 with a hint',
  async () => {
    await t.cluster(TREE.CLUSTER, ['h1']);
    const inUse = await t.call(t.adminToken, 'DELETE', '/api/v1/hosts/h1');
    assertError(inUse, 400, 'NOOPS_E_INPUT');
    assert.match(inUse.json().hint, /cluster set/);
    await serverAdminOnly('DELETE', '/api/v1/hosts/h3');
    const res = await t.call(t.adminToken, 'DELETE', '/api/v1/hosts/h3');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, 'h3');
    assertError(await t.call(agents.h3!, 'GET', '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED', "the removed host's token");
    assert.deepEqual(((await t.call(t.adminToken, 'GET', '/api/v1/hosts')).json() as { name: string }[]).map((h) => h.name).sort(), [
      'h1',
      'h2',
    ]);
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/hosts/h3'), 404, 'NOOPS_E_HOST_UNKNOWN');
  },
);
