/** Setting clusters and applying a cluster.conf through `inject()`: who may, which hosts, what it stops. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webDeployer: string;

before(async () => {
  t = await startTestApp();
  for (const h of ['h1', 'h2', 'h3']) agents[h] = await t.agent(h);
  // h1 and h2 belong to the web team's subtree; h3 to no one
  for (const h of ['h1', 'h2'])
    assert.equal((await t.call(t.adminToken, 'PUT', `/api/v1/hosts/${h}/scope`, { scope: TREE.WEB })).statusCode, 200);
  webDeployer = await t.team(TREE.WEB, 'deployer');
});
after(() => t.close());

routeTest(
  'PUT /api/v1/clusters',
  "a deployer sets its cluster's hosts and policy (200, the cluster); hosts outside its subtree are 403",
  async () => {
    const res = await t.call(webDeployer, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h1', 'h1'], policy: { batch: [1] } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      [res.json().tag, res.json().hosts, res.json().policy, res.json().currentVersion],
      [TREE.CLUSTER, ['h1'], { batch: [1] }, null],
    );
    // the policy alone keeps the hosts
    const policy = await t.call(webDeployer, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, policy: { pause: '1s' } });
    assert.deepEqual([policy.statusCode, policy.json().hosts, policy.json().policy.pause], [200, ['h1'], 1]);
    assertError(
      await t.call(webDeployer, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h3'] }),
      403,
      'NOOPS_E_FORBIDDEN',
      'an unassigned host',
    );
    assertError(
      await t.call(webDeployer, 'PUT', '/api/v1/clusters', { tag: TREE.MAIL_CLUSTER, hosts: ['h1'] }),
      403,
      'NOOPS_E_FORBIDDEN',
      "another team's cluster",
    );
    assertError(
      await t.call(await t.team(TREE.WEB, 'viewer'), 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h1'] }),
      403,
      'NOOPS_E_FORBIDDEN',
      'a viewer',
    );
    await assertPeopleOnly(t, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h1'] }, agents.h1!);
    // the admin may put any host anywhere
    assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.MAIL_CLUSTER, hosts: ['h3'] })).statusCode, 200);
  },
);

routeTest(
  'PUT /api/v1/clusters',
  'bad input is 400; a new cluster without hosts is NOOPS_E_CLUSTER_UNKNOWN; taking hosts out asks for yes',
  async () => {
    for (const body of [
      { tag: TREE.CLUSTER, hosts: [] },
      { tag: TREE.CLUSTER, hosts: ['-bad'] },
      { tag: TREE.CLUSTER, hosts: ['h1'], extra: 1 },
      { hosts: ['h1'] },
      { tag: TREE.CLUSTER, hosts: ['h1'], policy: { batch: 'x' } },
      { tag: TREE.CLUSTER, hosts: ['h1'], policy: { nope: 1 } },
    ]) {
      assertError(await t.call(t.adminToken, 'PUT', '/api/v1/clusters', body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    }
    assertError(await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: 'not a tag', hosts: ['h1'] }), 400, 'NOOPS_E_TAG_INVALID');
    assertError(
      await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: `${TREE.JOB}_cluster.fresh` }),
      404,
      'NOOPS_E_CLUSTER_UNKNOWN',
    );

    await t.release(TREE.JOB, 'abcdef001');
    assert.equal((await t.deploy(TREE.CLUSTER, 'abcdef001', { h1: agents.h1! })).status, 'succeeded');
    assertError(
      await t.call(webDeployer, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h2'] }),
      409,
      'NOOPS_E_UNDEPLOY_CONFIRM',
    );
    const res = await t.call(webDeployer, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h2'], yes: true });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().hosts, res.json().stopping.stops.map((s: { host: string }) => s.host)], [['h2'], ['h1']]);
    assert.equal((await t.drive(res.json().stopping.deployment, { h1: agents.h1! }, [])).status, 'succeeded');
  },
);

const conf = (hosts: string, job: string = TREE.JOB) => `cluster:\n  name: staging\n  jobs: [${job}]\n${job}:\n  host: [${hosts}]\n`;

routeTest(
  'POST /api/v1/clusters/apply',
  'a cluster.conf sets its clusters, all or nothing; bad text is 400; outside the subtree is 403',
  async () => {
    const res = await t.call(webDeployer, 'POST', '/api/v1/clusters/apply', { conf: conf('h1') });
    assert.equal(res.statusCode, 200, res.body);
    const [view] = res.json() as { tag: string; hosts: string[]; conf: string }[];
    assert.deepEqual([view!.tag, view!.hosts], [`${TREE.JOB}_cluster.staging`, ['h1']]);
    assert.equal(view!.conf, conf('h1'));
    assertError(
      await t.call(webDeployer, 'POST', '/api/v1/clusters/apply', { conf: conf('h3') }),
      403,
      'NOOPS_E_FORBIDDEN',
      'an unassigned host',
    );
    assertError(await t.call(webDeployer, 'POST', '/api/v1/clusters/apply', { conf: conf('h1', TREE.MAIL_JOB) }), 403, 'NOOPS_E_FORBIDDEN');
    assertError(
      await t.call(await t.team(TREE.WEB, 'viewer'), 'POST', '/api/v1/clusters/apply', { conf: conf('h1') }),
      403,
      'NOOPS_E_FORBIDDEN',
    );
    for (const body of [{ conf: '' }, { conf: conf('h1'), extra: 1 }, {}]) {
      assertError(await t.call(webDeployer, 'POST', '/api/v1/clusters/apply', body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    }
    assertError(await t.call(webDeployer, 'POST', '/api/v1/clusters/apply', { conf: 'not a cluster conf [' }), 400, 'NOOPS_E_CLUSTER_CONF');
    assertError(
      await t.call(webDeployer, 'POST', '/api/v1/clusters/apply', { conf: `${conf('h1')}  colour: blue\n` }),
      400,
      'NOOPS_E_CLUSTER_CONF',
      'an unknown key',
    );
    await assertPeopleOnly(t, 'POST', '/api/v1/clusters/apply', { conf: conf('h1') }, agents.h1!);
  },
);
