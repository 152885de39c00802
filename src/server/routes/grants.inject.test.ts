/** Root grants through `inject()`: only the server's admin lists, allows and denies. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let rootAdmin: string;

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  rootAdmin = await t.team(TREE.ROOT, 'admin');
});
after(() => t.close());

routeTest(
  'PUT /api/v1/grants/root',
  'the admin allows root under a node (201, then 200 unchanged); a bad tag is 400; a team admin 403',
  async () => {
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/grants/root', { scope: TREE.JOB });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual([res.json().scope, res.json().createdBy], [TREE.JOB, 'admin']);
    const again = await t.call(t.adminToken, 'PUT', '/api/v1/grants/root', { scope: TREE.JOB });
    assert.deepEqual([again.statusCode, again.json()], [200, res.json()]);
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/grants/root', { scope: 'not a tag' }), 400, 'NOOPS_E_TAG_INVALID');
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/grants/root', {}), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/grants/root', { scope: TREE.JOB, x: 1 }), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(rootAdmin, 'PUT', '/api/v1/grants/root', { scope: TREE.JOB }), 403, 'NOOPS_E_FORBIDDEN');
    await assertPeopleOnly(t, 'PUT', '/api/v1/grants/root', { scope: TREE.JOB }, agent);
  },
);

routeTest('GET /api/v1/grants/root', 'the admin lists the grants; bad paging is 400; a team admin 403', async () => {
  const res = await t.call(t.adminToken, 'GET', '/api/v1/grants/root');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(
    (res.json() as { scope: string }[]).map((g) => g.scope),
    [TREE.JOB],
  );
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/grants/root?limit=x'), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(rootAdmin, 'GET', '/api/v1/grants/root'), 403, 'NOOPS_E_FORBIDDEN');
  await assertPeopleOnly(t, 'GET', '/api/v1/grants/root', undefined, agent);
});

routeTest(
  'DELETE /api/v1/grants/root/:scope',
  'the admin denies (the removed grant); nothing to deny is 404; a bad tag 400; a team admin 403',
  async () => {
    assertError(await t.call(rootAdmin, 'DELETE', `/api/v1/grants/root/${TREE.JOB}`), 403, 'NOOPS_E_FORBIDDEN');
    await assertPeopleOnly(t, 'DELETE', `/api/v1/grants/root/${TREE.JOB}`, undefined, agent);
    const res = await t.call(t.adminToken, 'DELETE', `/api/v1/grants/root/${TREE.JOB}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().scope, TREE.JOB);
    assertError(await t.call(t.adminToken, 'DELETE', `/api/v1/grants/root/${TREE.JOB}`), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/grants/root/not%20a%20tag'), 400, 'NOOPS_E_TAG_INVALID');
    assert.deepEqual((await t.call(t.adminToken, 'GET', '/api/v1/grants/root')).json(), []);
  },
);
