/** Runtimes through `inject()`: only the server's admin adds one (the tarball as the body); people list them. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, tarOf, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let tool: Buffer;

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  tool = await tarOf(t.dir, [['tool-1.0/bin/tool', '#!/bin/sh\necho tool\n']]);
});
after(() => t.close());

routeTest(
  'POST /api/v1/runtimes',
  'the admin adds a runtime (201, then 200 for the same tarball); another tarball under the same version is refused',
  async () => {
    const res = await t.call(t.adminToken, 'POST', '/api/v1/runtimes?name=tool&version=1.0', tool);
    assert.equal(res.statusCode, 201, res.body);
    const r = res.json();
    assert.deepEqual([r.name, r.version, r.root, r.createdBy, r.hosts], ['tool', '1.0', 'tool-1.0', 'admin', []]);
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
    assert.equal((await t.call(t.adminToken, 'POST', '/api/v1/runtimes?name=tool&version=1.0', tool)).statusCode, 200, 'the same again');
    const other = await tarOf(t.dir, [['tool-1.0/bin/tool', '#!/bin/sh\necho other\n']]);
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/runtimes?name=tool&version=1.0', other), 409, 'NOOPS_E_RUNTIME_EXISTS');
  },
);

routeTest('POST /api/v1/runtimes', "bad names, exports or bodies are 400 or 422, never 500; only the server's admin adds", async () => {
  for (const q of [
    'version=1.0',
    'name=tool',
    'name=Bad!&version=1',
    'name=tool&version=-1',
    'name=tool&version=2&exports=nope',
    'name=tool&version=2&exports={"x":1}',
    'name=tool&version=2&x=1',
  ]) {
    assertError(await t.call(t.adminToken, 'POST', `/api/v1/runtimes?${q}`, tool), 400, 'NOOPS_E_INPUT', q);
  }
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/runtimes?name=tool&version=3', { json: true }),
    400,
    'NOOPS_E_INPUT',
    'a JSON body',
  );
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/runtimes?name=tool&version=3', Buffer.from('not a tarball')),
    422,
    'NOOPS_E_PACKAGE_INVALID',
  );
  assertError(
    await t.call(await t.team(TREE.ROOT, 'admin'), 'POST', '/api/v1/runtimes?name=tool&version=4', tool),
    403,
    'NOOPS_E_FORBIDDEN',
    'a team admin',
  );
  await assertPeopleOnly(t, 'POST', '/api/v1/runtimes?name=tool&version=4', tool, agent);
});

routeTest('GET /api/v1/runtimes', 'any viewer lists the runtimes with the hosts that have them; bad paging is 400', async () => {
  assert.equal(
    (await t.report(agent, { runtimes: { platform: 'linux-x64', canInstall: true, reason: null, installed: ['tool@1.0'] } })).statusCode,
    200,
  );
  const res = await t.call(await t.team(TREE.MAIL, 'viewer'), 'GET', '/api/v1/runtimes');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(
    (res.json() as { name: string; version: string; hosts: string[] }[]).map((r) => [r.name, r.version, r.hosts]),
    [['tool', '1.0', ['h1']]],
  );
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/runtimes?offset=-1'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/runtimes', undefined, agent);
});
