/** `POST /releases/import` through `inject()`: a package as the body or a URL; who may; what is refused. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, packageOf, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let webDeployer: string;
let pkg: Buffer;
const url = `/api/v1/releases/import?tag=${TREE.JOB}`;

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  webDeployer = await t.team(TREE.WEB, 'deployer');
  pkg = await packageOf(t.dir, TREE.JOB, 'abcdef001');
});
after(() => t.close());

routeTest(
  'POST /api/v1/releases/import',
  'a deployer imports a package (201, the signed release); the same again is 200; other bytes under its version 409',
  async () => {
    const res = await t.call(webDeployer, 'POST', url, pkg);
    assert.equal(res.statusCode, 201, res.body);
    const r = res.json();
    assert.deepEqual([r.job, r.version, r.manifest.job], [TREE.JOB, 'abcdef001', TREE.JOB]);
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
    assert.ok(r.signature, 'signed');
    // a cluster's tag names its job
    assert.equal((await t.call(webDeployer, 'POST', `/api/v1/releases/import?tag=${TREE.JOB}_cluster.prod`, pkg)).statusCode, 200);
    const other = await packageOf(t.dir, TREE.JOB, 'abcdef001'); // another builtAt: other bytes
    assertError(await t.call(webDeployer, 'POST', url, other), 409, 'NOOPS_E_RELEASE_EXISTS');
  },
);

routeTest(
  'POST /api/v1/releases/import',
  'a package of another job or not a package is 422; no body, a JSON body or both body and URL are 400',
  async () => {
    assertError(
      await t.call(webDeployer, 'POST', url, await packageOf(t.dir, `${TREE.WEB}_pdl.shop_service.api_job.other`, 'abcdef002')),
      422,
      'NOOPS_E_PACKAGE_INVALID',
      'another job',
    );
    assertError(await t.call(webDeployer, 'POST', url, Buffer.from('not a package')), 422, 'NOOPS_E_PACKAGE_INVALID');
    assertError(await t.call(webDeployer, 'POST', url), 400, 'NOOPS_E_INPUT', 'no body');
    assertError(await t.call(webDeployer, 'POST', url, { json: true }), 400, 'NOOPS_E_INPUT', 'a JSON body');
    assertError(await t.call(webDeployer, 'POST', `${url}&url=https://example.invalid/p.tar.gz`, pkg), 400, 'NOOPS_E_INPUT', 'both');
    assertError(await t.call(webDeployer, 'POST', '/api/v1/releases/import', pkg), 400, 'NOOPS_E_INPUT', 'no tag');
    assertError(await t.call(webDeployer, 'POST', '/api/v1/releases/import?tag=cop.acme', pkg), 400, 'NOOPS_E_TAG_INVALID', 'not a job');
    assertError(await t.call(webDeployer, 'POST', `${url}&x=1`, pkg), 400, 'NOOPS_E_INPUT');
  },
);

routeTest('POST /api/v1/releases/import', "a viewer or another team's deployer may not import; nor an agent or no token", async () => {
  assertError(await t.call(await t.team(TREE.WEB, 'viewer'), 'POST', url, pkg), 403, 'NOOPS_E_FORBIDDEN', 'a viewer');
  assertError(await t.call(await t.team(TREE.MAIL, 'deployer'), 'POST', url, pkg), 403, 'NOOPS_E_FORBIDDEN', 'another subtree');
  await assertPeopleOnly(t, 'POST', url, pkg, agent);
});
