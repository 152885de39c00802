/** `GET /nodes/:tag` through `inject()`: one node with what is under it, as the token may see it. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webViewer: string;

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  await t.release(TREE.JOB, 'abcdef001');
  await t.release(TREE.MAIL_JOB, 'bcdef0001');
  await t.cluster(TREE.CLUSTER, ['h1']);
  await t.cluster(TREE.MAIL_CLUSTER, ['h2']);
  await t.deploy(TREE.CLUSTER, 'abcdef001', { h1: agents.h1! });
  webViewer = await t.team(TREE.WEB, 'viewer');
});
after(() => t.close());

routeTest('GET /api/v1/nodes/:tag', "a cluster's page: its path, hosts, instances, job and current release", async () => {
  const res = await t.call(webViewer, 'GET', `/api/v1/nodes/${TREE.CLUSTER}`);
  assert.equal(res.statusCode, 200, res.body);
  const n = res.json();
  assert.equal(n.node.tag, TREE.CLUSTER);
  assert.deepEqual(
    n.path.map((p: { level: string }) => p.level),
    ['cop', 'owt', 'pdl', 'service', 'job', 'cluster'],
  );
  assert.deepEqual(
    n.hosts.map((h: { name: string; clusters: string[] }) => [h.name, h.clusters]),
    [['h1', [TREE.CLUSTER]]],
  );
  assert.deepEqual(
    n.instances.map((i: { host: string; version: string }) => [i.host, i.version]),
    [['h1', 'abcdef001']],
  );
  assert.deepEqual(
    n.jobs.map((j: { tag: string; releases: number }) => [j.tag, j.releases]),
    [[TREE.JOB, 1]],
  );
  assert.deepEqual(
    [n.cluster.tag, n.cluster.hosts, n.cluster.currentVersion, n.cluster.current.version, n.cluster.running],
    [TREE.CLUSTER, ['h1'], 'abcdef001', 'abcdef001', null],
  );
});

routeTest(
  'GET /api/v1/nodes/:tag',
  'above its scope a team sees only the way down; beside it, nothing (404); unknown is 404, a bad tag 400',
  async () => {
    const root = (await t.call(webViewer, 'GET', `/api/v1/nodes/${TREE.ROOT}`)).json();
    assert.deepEqual(
      root.node.children.map((c: { tag: string }) => c.tag),
      [TREE.WEB],
    );
    assert.deepEqual(
      root.jobs.map((j: { tag: string }) => j.tag),
      [TREE.JOB],
    );
    assert.deepEqual(
      (await t.call(t.adminToken, 'GET', `/api/v1/nodes/${TREE.ROOT}`))
        .json()
        .node.children.map((c: { tag: string }) => c.tag)
        .sort(),
      [TREE.MAIL, TREE.WEB],
    );
    assertError(await t.call(webViewer, 'GET', `/api/v1/nodes/${TREE.MAIL}`), 404, 'NOOPS_E_TAG_UNKNOWN', 'another subtree');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/nodes/cop.nope'), 404, 'NOOPS_E_TAG_UNKNOWN');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/nodes/not%20a%20tag'), 400, 'NOOPS_E_TAG_INVALID');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/nodes/${TREE.ROOT}?x=1`), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', `/api/v1/nodes/${TREE.ROOT}`, undefined, agents.h1!);
  },
);
