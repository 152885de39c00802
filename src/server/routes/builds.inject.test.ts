/** Builds through `inject()`: start one (202, it runs in the background) and read it with its log. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, until, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let webDeployer: string;
let buildId: number;

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  webDeployer = await t.team(TREE.WEB, 'deployer');
});
after(() => t.close());

routeTest(
  'POST /api/v1/builds',
  'a deployer starts a build of its job (202, running); a repository that cannot be cloned fails the build, not the call',
  async () => {
    const res = await t.call(webDeployer, 'POST', '/api/v1/builds', { repo: join(t.dir, 'no-such-repo'), tag: TREE.CLUSTER, ref: 'main' });
    assert.equal(res.statusCode, 202, res.body);
    const b = res.json();
    assert.deepEqual([b.job, b.ref, b.status, b.initiator, b.version, b.error], [TREE.JOB, 'main', 'running', b.initiator, null, null]);
    buildId = b.id;
    await until(
      'the build to fail',
      async () => (await t.call(webDeployer, 'GET', `/api/v1/builds/${buildId}`)).json().build.status !== 'running',
    );
    const done = (await t.call(webDeployer, 'GET', `/api/v1/builds/${buildId}`)).json().build;
    assert.equal(done.status, 'failed');
    assert.match(done.error.code, /^NOOPS_E_/);
  },
);

routeTest(
  'POST /api/v1/builds',
  'bad input is 400, a credential that is no secret is refused before the build; a viewer or another team is 403',
  async () => {
    const body = { repo: 'https://git.example.com/x.git', tag: TREE.JOB, ref: 'main' };
    for (const bad of [
      { ...body, repo: '--upload-pack=x' },
      { ...body, ref: '-x' },
      { ...body, ref: 'a b' },
      { ...body, repo: '' },
      { ...body, extra: 1 },
      { ...body, credential: '-bad' },
    ]) {
      assertError(await t.call(webDeployer, 'POST', '/api/v1/builds', bad), 400, 'NOOPS_E_INPUT', JSON.stringify(bad));
    }
    assertError(await t.call(webDeployer, 'POST', '/api/v1/builds', { ...body, tag: 'cop.acme' }), 400, 'NOOPS_E_TAG_INVALID', 'not a job');
    const cred = await t.call(webDeployer, 'POST', '/api/v1/builds', { ...body, credential: 'git-token' });
    assert.equal(cred.json().code, 'NOOPS_E_SECRET_UNKNOWN', cred.body);
    assert.ok(cred.statusCode >= 400 && cred.statusCode < 500);
    assertError(await t.call(await t.team(TREE.WEB, 'viewer'), 'POST', '/api/v1/builds', body), 403, 'NOOPS_E_FORBIDDEN', 'a viewer');
    assertError(
      await t.call(await t.team(TREE.MAIL, 'deployer'), 'POST', '/api/v1/builds', body),
      403,
      'NOOPS_E_FORBIDDEN',
      'another subtree',
    );
    await assertPeopleOnly(t, 'POST', '/api/v1/builds', body, agent);
  },
);

routeTest(
  'GET /api/v1/builds/:id',
  "a viewer of the job reads the build and its log from an offset; another team's or a missing build is 404",
  async () => {
    const res = await t.call(await t.team(TREE.JOB, 'viewer'), 'GET', `/api/v1/builds/${buildId}?logOffset=0`);
    assert.equal(res.statusCode, 200);
    const p = res.json();
    assert.deepEqual([p.build.id, p.build.status, typeof p.log, p.logOffset], [buildId, 'failed', 'string', Buffer.byteLength(p.log)]);
    const rest = (await t.call(t.adminToken, 'GET', `/api/v1/builds/${buildId}?logOffset=${p.logOffset}`)).json();
    assert.deepEqual([rest.log, rest.logOffset], ['', p.logOffset]);
    assertError(
      await t.call(await t.team(TREE.MAIL, 'admin'), 'GET', `/api/v1/builds/${buildId}`),
      404,
      'NOOPS_E_NOT_FOUND',
      'another subtree',
    );
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/builds/999'), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/builds/x'), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/builds/${buildId}?offset=1`), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', `/api/v1/builds/${buildId}`, undefined, agent);
  },
);
