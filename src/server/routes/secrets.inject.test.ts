/**
 * The secret routes through `inject()`: status codes, error codes and scopes of set, list and
 * remove (what a value may reach is in secrets.test.ts).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

const VALUE = 'sekret-value-9f3k';
let t: TestApp;
let agent: string;
let webAdmin: string;

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  webAdmin = await t.team(TREE.WEB, 'admin');
});
after(() => t.close());

routeTest(
  'PUT /api/v1/secrets/:name',
  'an admin of the scope sets a secret (its name and version, never the value); lower roles and other scopes are 403',
  async () => {
    const res = await t.call(webAdmin, 'PUT', '/api/v1/secrets/db', { scope: TREE.JOB, value: VALUE });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().name, res.json().scope, res.json().version], ['db', TREE.JOB, 1]);
    assert.equal(res.body.includes(VALUE), false);
    assert.equal((await t.call(webAdmin, 'PUT', '/api/v1/secrets/db', { scope: TREE.JOB, value: 'v2' })).json().version, 2);
    for (const role of ['viewer', 'deployer'] as const) {
      assertError(
        await t.call(await t.team(TREE.WEB, role), 'PUT', '/api/v1/secrets/db', { scope: TREE.JOB, value: 'x' }),
        403,
        'NOOPS_E_FORBIDDEN',
        role,
      );
    }
    assertError(
      await t.call(webAdmin, 'PUT', '/api/v1/secrets/db', { scope: TREE.MAIL, value: 'x' }),
      403,
      'NOOPS_E_FORBIDDEN',
      'another subtree',
    );
    assertError(
      await t.call(webAdmin, 'PUT', '/api/v1/secrets/db', { scope: TREE.ROOT, value: 'x' }),
      403,
      'NOOPS_E_FORBIDDEN',
      'above its scope',
    );
    await assertPeopleOnly(t, 'PUT', '/api/v1/secrets/db', { scope: TREE.JOB, value: 'x' }, agent);
  },
);

routeTest('PUT /api/v1/secrets/:name', 'bad names, bodies and values too large are 400', async () => {
  for (const [name, body] of [
    ['-x', { scope: TREE.WEB, value: 'v' }],
    ['ok', { scope: TREE.WEB }],
    ['ok', { scope: TREE.WEB, value: 'v', x: 1 }],
    ['ok', { scope: TREE.WEB, value: 'x'.repeat(64 * 1024 + 1) }],
    ['ok', { value: 'v' }],
  ] as const) {
    assertError(
      await t.call(t.adminToken, 'PUT', `/api/v1/secrets/${name}`, body),
      400,
      'NOOPS_E_INPUT',
      `${name} ${JSON.stringify(body).slice(0, 60)}`,
    );
  }
  assertError(await t.call(t.adminToken, 'PUT', '/api/v1/secrets/ok', { scope: 'not a tag', value: 'v' }), 400, 'NOOPS_E_TAG_INVALID');
});

routeTest('GET /api/v1/secrets', 'a viewer lists the names it may see; ?scope= narrows to a subtree and what serves it', async () => {
  await t.call(t.adminToken, 'PUT', '/api/v1/secrets/smtp', { scope: TREE.MAIL, value: 'm' });
  await t.call(t.adminToken, 'PUT', '/api/v1/secrets/shared', { scope: TREE.ROOT, value: 's' });
  const web = (await t.call(await t.team(TREE.WEB, 'viewer'), 'GET', '/api/v1/secrets')).json() as { name: string }[];
  assert.deepEqual(
    web.map((s) => s.name),
    ['db'],
  );
  assert.equal(JSON.stringify(web).includes(VALUE), false);
  assert.deepEqual(
    ((await t.call(t.adminToken, 'GET', `/api/v1/secrets?scope=${TREE.MAIL}`)).json() as { name: string }[]).map((s) => s.name).sort(),
    ['shared', 'smtp'],
  );
  assert.equal(((await t.call(t.adminToken, 'GET', '/api/v1/secrets')).json() as unknown[]).length, 3);
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/secrets?scope=not a tag'), 400, 'NOOPS_E_TAG_INVALID');
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/secrets?name=db'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/secrets', undefined, agent);
});

routeTest(
  'DELETE /api/v1/secrets/:name',
  'an admin of the scope removes it (the removed one); unknown is NOOPS_E_SECRET_UNKNOWN; a scope is required',
  async () => {
    assertError(
      await t.call(await t.team(TREE.WEB, 'deployer'), 'DELETE', `/api/v1/secrets/db?scope=${TREE.JOB}`),
      403,
      'NOOPS_E_FORBIDDEN',
    );
    assertError(await t.call(await t.team(TREE.MAIL, 'admin'), 'DELETE', `/api/v1/secrets/db?scope=${TREE.JOB}`), 403, 'NOOPS_E_FORBIDDEN');
    await assertPeopleOnly(t, 'DELETE', `/api/v1/secrets/db?scope=${TREE.JOB}`, undefined, agent);
    const res = await t.call(webAdmin, 'DELETE', `/api/v1/secrets/db?scope=${TREE.JOB}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      (res.json() as { name: string; scope: string }[]).map((s) => [s.name, s.scope]),
      [['db', TREE.JOB]],
    );
    const gone = await t.call(webAdmin, 'DELETE', `/api/v1/secrets/db?scope=${TREE.JOB}`);
    assert.equal(gone.json().code, 'NOOPS_E_SECRET_UNKNOWN', gone.body);
    assert.ok(gone.statusCode >= 400 && gone.statusCode < 500, gone.body);
    assertError(await t.call(webAdmin, 'DELETE', '/api/v1/secrets/db'), 400, 'NOOPS_E_INPUT', 'no scope');
    assertError(await t.call(webAdmin, 'DELETE', `/api/v1/secrets/-x?scope=${TREE.JOB}`), 400, 'NOOPS_E_INPUT');
  },
);
