/** Deploys, rollbacks, undeploys and steering a deployment through `inject()`. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentSummary } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, upProcess, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webDeployer: string;
let webViewer: string;
let mailDeployer: string;

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  await t.release(TREE.JOB, 'abcdef001');
  await t.release(TREE.JOB, 'abcdef002');
  await t.release(TREE.MAIL_JOB, 'bcdef0001');
  await t.cluster(TREE.CLUSTER, ['h1']);
  await t.cluster(TREE.MAIL_CLUSTER, ['h2']);
  webDeployer = await t.team(TREE.WEB, 'deployer');
  webViewer = await t.team(TREE.WEB, 'viewer');
  mailDeployer = await t.team(TREE.MAIL, 'deployer');
});
after(() => t.close());

routeTest('POST /api/v1/deployments', 'a deployer starts a deploy (202, running); bad input is 400, unknown things are named', async () => {
  const res = await t.call(webDeployer, 'POST', '/api/v1/deployments', { tag: TREE.CLUSTER, version: 'abcdef001', policy: { batch: [1] } });
  assert.equal(res.statusCode, 202, res.body);
  const d = res.json();
  assert.deepEqual([d.tag, d.version, d.kind, d.status, d.hosts], [TREE.CLUSTER, 'abcdef001', 'deploy', 'running', ['h1']]);
  // the cluster is locked while it runs
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/deployments', { tag: TREE.CLUSTER, version: 'abcdef002' }),
    409,
    'NOOPS_E_DEPLOY_LOCKED',
  );
  assert.equal((await t.call(t.adminToken, 'POST', `/api/v1/deployments/${d.id}/abort`)).statusCode, 200);
  assert.equal((await t.drive(d.id, { h1: agents.h1! }, [])).status, 'aborted');

  for (const body of [
    { tag: TREE.CLUSTER, version: 'NOTHEX' },
    { tag: TREE.CLUSTER, version: 'abcdef001', extra: 1 },
    { version: 'abcdef001' },
    { tag: TREE.CLUSTER, version: 'abcdef001', timeout: -1 },
    { tag: TREE.CLUSTER, version: 'abcdef001', canary: [] },
    { tag: TREE.MAIL_CLUSTER, version: 'bcdef0001', policy: { batch: 'lots' } },
  ]) {
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/deployments', body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
  }
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: TREE.MAIL_CLUSTER }),
    400,
    'NOOPS_E_INPUT',
    'no version and none in the cluster.conf',
  );
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: TREE.MAIL_CLUSTER, version: 'fffffff99' }),
    404,
    'NOOPS_E_RELEASE_UNKNOWN',
  );
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: 'cop.nope', version: 'abcdef001' }),
    400,
    'NOOPS_E_TAG_INVALID',
  );
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: `${TREE.JOB}_cluster.none`, version: 'abcdef001' }),
    404,
    'NOOPS_E_CLUSTER_UNKNOWN',
  );
});

routeTest(
  'POST /api/v1/deployments',
  '?view=summary answers the started deploy as its summary; a view that is not "summary" is 400 and starts nothing',
  async () => {
    const body = { tag: TREE.CLUSTER, version: 'abcdef002', policy: { batch: [1] } };
    const bad = await t.call(webDeployer, 'POST', '/api/v1/deployments?view=all', body);
    assertError(bad, 400, 'NOOPS_E_INPUT');
    assert.match(bad.json().message, /view is "summary"/);
    const res = await t.call(webDeployer, 'POST', '/api/v1/deployments?view=summary', body);
    assert.equal(res.statusCode, 202, res.body); // not 409: the refused one started nothing
    const s = res.json() as DeploymentSummary;
    assert.deepEqual([s.tag, s.version, s.kind, s.status, s.hostCount], [TREE.CLUSTER, 'abcdef002', 'deploy', 'running', 1]);
    assert.equal(typeof s.index, 'number');
    for (const field of ['hosts', 'hostResults', 'previous']) assert.equal(field in s, false, `no ${field}`);
    const summary = (await t.call(webDeployer, 'GET', `/api/v1/deployments/${s.id}/summary`)).json() as DeploymentSummary;
    assert.deepEqual([summary.id, summary.hostCount], [s.id, 1]);
    assert.equal((await t.call(t.adminToken, 'POST', `/api/v1/deployments/${s.id}/abort`)).statusCode, 200);
    assert.equal((await t.drive(s.id, { h1: agents.h1! }, [])).status, 'aborted');
  },
);

routeTest('POST /api/v1/deployments', "a viewer, another team's deployer, an agent or no token may not deploy", async () => {
  const body = { tag: TREE.CLUSTER, version: 'abcdef002' };
  assertError(await t.call(webViewer, 'POST', '/api/v1/deployments', body), 403, 'NOOPS_E_FORBIDDEN', 'viewer');
  assertError(await t.call(mailDeployer, 'POST', '/api/v1/deployments', body), 403, 'NOOPS_E_FORBIDDEN', 'another subtree');
  await assertPeopleOnly(t, 'POST', '/api/v1/deployments', body, agents.h1!);
});

routeTest(
  'POST /api/v1/deployments/:id/:action',
  'pause, resume and abort a running deployment; promote outside a canary is 409; unknown action or id is 404',
  async () => {
    const d = (await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: TREE.MAIL_CLUSTER, version: 'bcdef0001' })).json();
    const act = (token: string, action: string, id = d.id) => t.call(token, 'POST', `/api/v1/deployments/${id}/${action}`);
    const paused = await act(mailDeployer, 'pause');
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal(paused.json().progress.paused, true);
    assert.equal((await act(mailDeployer, 'resume')).json().progress.paused, false);
    assertError(await act(mailDeployer, 'promote'), 409, 'NOOPS_E_DEPLOY_STATE');
    assertError(await act(mailDeployer, 'explode'), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await act(mailDeployer, 'pause', 999), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await act(webDeployer, 'pause'), 404, 'NOOPS_E_NOT_FOUND', "another team's deployment is not found");
    assertError(await act(await t.team(TREE.MAIL, 'viewer'), 'pause'), 403, 'NOOPS_E_FORBIDDEN', 'a viewer');
    await assertPeopleOnly(t, 'POST', `/api/v1/deployments/${d.id}/pause`, undefined, agents.h2!);
    const aborted = await act(mailDeployer, 'abort');
    assert.equal(aborted.statusCode, 200);
    assert.equal(aborted.json().hostResults.h2, 'reverting');
    assert.equal((await t.drive(d.id, { h2: agents.h2! }, [])).status, 'aborted');
    assertError(await act(mailDeployer, 'pause'), 409, 'NOOPS_E_DEPLOY_STATE', 'an ended deployment');
  },
);

routeTest(
  'POST /api/v1/rollbacks',
  'with no earlier version it is 409; to a named version, or the one before, it starts a rollback (202)',
  async () => {
    const done = await t.deploy(TREE.CLUSTER, 'abcdef001', { h1: agents.h1! });
    assert.equal(done.status, 'succeeded');
    assertError(await t.call(webDeployer, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER }), 409, 'NOOPS_E_NO_PREVIOUS');
    const res = await t.call(webDeployer, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER, to: 'abcdef002' });
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual([res.json().kind, res.json().version, res.json().status], ['rollback', 'abcdef002', 'running']);
    assert.equal((await t.drive(res.json().id, { h1: agents.h1! }, [upProcess(TREE.CLUSTER, 'abcdef002')])).status, 'succeeded');
    const back = await t.call(webDeployer, 'POST', '/api/v1/rollbacks?view=summary', { tag: TREE.CLUSTER });
    assert.deepEqual([back.statusCode, back.json().version, 'hosts' in back.json()], [202, 'abcdef001', false], 'its summary');
    assert.equal((await t.drive(back.json().id, { h1: agents.h1! }, [upProcess(TREE.CLUSTER, 'abcdef001')])).status, 'succeeded');
    assertError(await t.call(webDeployer, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER, to: 'x' }), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(webDeployer, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER, version: 'abcdef002' }), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(webViewer, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER }), 403, 'NOOPS_E_FORBIDDEN');
    assertError(await t.call(mailDeployer, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER }), 403, 'NOOPS_E_FORBIDDEN');
    await assertPeopleOnly(t, 'POST', '/api/v1/rollbacks', { tag: TREE.CLUSTER }, agents.h1!);
  },
);

routeTest('POST /api/v1/undeploys', 'stops what a cluster runs (202); where nothing runs it is 409', async () => {
  assertError(await t.call(webViewer, 'POST', '/api/v1/undeploys', { tag: TREE.CLUSTER }), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(mailDeployer, 'POST', '/api/v1/undeploys', { tag: TREE.CLUSTER }), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(webDeployer, 'POST', '/api/v1/undeploys', { tag: TREE.CLUSTER, hosts: ['h1'] }), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'POST', '/api/v1/undeploys', { tag: TREE.CLUSTER }, agents.h1!);
  const mail = await t.call(mailDeployer, 'POST', '/api/v1/undeploys', { tag: TREE.MAIL_CLUSTER });
  assertError(mail, 409, 'NOOPS_E_NOTHING_RUNS');
  assertError(await t.call(webDeployer, 'POST', '/api/v1/undeploys?view=whole', { tag: TREE.CLUSTER }), 400, 'NOOPS_E_INPUT');
  const res = await t.call(webDeployer, 'POST', '/api/v1/undeploys', { tag: TREE.CLUSTER });
  assert.equal(res.statusCode, 202, res.body);
  assert.deepEqual([res.json().kind, res.json().status, res.json().hosts], ['undeploy', 'running', ['h1']]);
  assert.equal((await t.drive(res.json().id, { h1: agents.h1! }, [])).status, 'succeeded');
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/undeploys', { tag: TREE.CLUSTER }),
    409,
    'NOOPS_E_NOTHING_RUNS',
    'undeployed already',
  );
});
