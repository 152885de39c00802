/**
 * The read-only views through `inject()`: whoami, hosts, instances, tree, releases, clusters,
 * history, one deployment, audit. A team sees its own subtree only; bad queries are 400s.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webViewer: string;
let mailViewer: string;
let webDeployId: number;
let mailDeployId: number;

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  await t.release(TREE.JOB, 'abcdef001');
  await t.release(TREE.MAIL_JOB, 'bcdef0001');
  await t.cluster(TREE.CLUSTER, ['h1']);
  await t.cluster(TREE.MAIL_CLUSTER, ['h2']);
  webDeployId = (await t.deploy(TREE.CLUSTER, 'abcdef001', { h1: agents.h1! })).id;
  mailDeployId = (await t.deploy(TREE.MAIL_CLUSTER, 'bcdef0001', { h2: agents.h2! })).id;
  webViewer = await t.team(TREE.WEB, 'viewer', 'web-viewer');
  mailViewer = await t.team(TREE.MAIL, 'viewer', 'mail-viewer');
});
after(() => t.close());

const get = (token: string | null, url: string) => t.call(token, 'GET', url);

routeTest('GET /api/v1/whoami', 'any token learns who it is; no token is 401; a parameter is 400', async () => {
  assert.deepEqual((await get(t.adminToken, '/api/v1/whoami')).json(), {
    id: (await get(t.adminToken, '/api/v1/whoami')).json().id,
    kind: 'admin',
    name: 'admin',
    scope: null,
    role: 'admin',
  });
  const team = (await get(webViewer, '/api/v1/whoami')).json();
  assert.deepEqual([team.kind, team.name, team.scope, team.role], ['team', 'web-viewer', TREE.WEB, 'viewer']);
  const agent = (await get(agents.h1!, '/api/v1/whoami')).json();
  assert.deepEqual([agent.kind, agent.name], ['agent', 'h1']);
  assert.equal((await get(t.joinToken, '/api/v1/whoami')).json().kind, 'join');
  assertError(await get(null, '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED');
  assertError(await get('not-a-token', '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED');
  assertError(await get(t.adminToken, '/api/v1/whoami?x=1'), 400, 'NOOPS_E_INPUT');
});

routeTest(
  'GET /api/v1/hosts',
  'the admin sees every host with its status; a team the hosts of its clusters; bad paging is 400',
  async () => {
    const all = (await get(t.adminToken, '/api/v1/hosts')).json() as { name: string; status: string; labels: object }[];
    assert.deepEqual(all.map((h) => h.name).sort(), ['h1', 'h2']);
    assert.ok(all.every((h) => (h.status === 'up' || h.status === 'down') && typeof h.labels === 'object'));
    assert.deepEqual(
      ((await get(webViewer, '/api/v1/hosts')).json() as { name: string }[]).map((h) => h.name),
      ['h1'],
    );
    assert.deepEqual(
      ((await get(mailViewer, '/api/v1/hosts')).json() as { name: string }[]).map((h) => h.name),
      ['h2'],
    );
    const page = await get(t.adminToken, '/api/v1/hosts?limit=1');
    assert.deepEqual([(page.json() as unknown[]).length, page.headers['x-noops-next']], [1, '1']);
    for (const q of ['limit=0', 'offset=-1', 'x=1', 'limit=1&limit=2'])
      assertError(await get(t.adminToken, `/api/v1/hosts?${q}`), 400, 'NOOPS_E_INPUT', q);
    await assertPeopleOnly(t, 'GET', '/api/v1/hosts', undefined, agents.h1!);
  },
);

routeTest('GET /api/v1/instances', "what runs, filtered by ?tag= and by the token's scope", async () => {
  const all = (await get(t.adminToken, '/api/v1/instances')).json() as { host: string; tag: string; version: string; state: string }[];
  assert.deepEqual(all.map((i) => [i.host, i.tag, i.version, i.state]).sort(), [
    ['h1', TREE.CLUSTER, 'abcdef001', 'up'],
    ['h2', TREE.MAIL_CLUSTER, 'bcdef0001', 'up'],
  ]);
  assert.deepEqual(
    ((await get(t.adminToken, `/api/v1/instances?tag=${TREE.MAIL}`)).json() as { host: string }[]).map((i) => i.host),
    ['h2'],
  );
  assert.deepEqual(
    ((await get(webViewer, '/api/v1/instances')).json() as { host: string }[]).map((i) => i.host),
    ['h1'],
  );
  assert.deepEqual(await get(webViewer, `/api/v1/instances?tag=${TREE.MAIL}`).then((r) => r.json()), []);
  assertError(await get(t.adminToken, '/api/v1/instances?tag=not a tag'), 400, 'NOOPS_E_TAG_INVALID');
  assertError(await get(t.adminToken, '/api/v1/instances?tga=x'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/instances', undefined, agents.h1!);
});

routeTest('GET /api/v1/tree', 'the tree with health; a team sees its subtree and the path down to it, nothing beside it', async () => {
  const res = (await get(t.adminToken, '/api/v1/tree')).json() as { roots: { tag: string }[]; text: string };
  assert.deepEqual(
    res.roots.map((r) => r.tag),
    [TREE.ROOT],
  );
  assert.ok(res.text.includes('web') && res.text.includes('mail'), res.text);
  const web = (await get(webViewer, '/api/v1/tree')).json() as { text: string };
  assert.ok(web.text.includes('web') && !web.text.includes('mail'), web.text);
  const sel = (await get(t.adminToken, '/api/v1/tree?selector=owt=mail')).json() as { text: string };
  assert.ok(sel.text.includes('mail') && !sel.text.includes('shop'), sel.text);
  assertError(await get(t.adminToken, '/api/v1/tree?tag=x'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/tree', undefined, agents.h1!);
});

routeTest('GET /api/v1/releases', 'releases with their signature status, of the jobs the token may see; ?tag= names a job', async () => {
  const all = (await get(t.adminToken, '/api/v1/releases')).json() as {
    job: string;
    version: string;
    sha256: string;
    signature: unknown;
  }[];
  assert.deepEqual(all.map((r) => `${r.job}@${r.version}`).sort(), [`${TREE.MAIL_JOB}@bcdef0001`, `${TREE.JOB}@abcdef001`]);
  assert.ok(all.every((r) => /^[0-9a-f]{64}$/.test(r.sha256) && r.signature !== undefined));
  assert.deepEqual(
    ((await get(t.adminToken, `/api/v1/releases?tag=${TREE.CLUSTER}`)).json() as { job: string }[]).map((r) => r.job),
    [TREE.JOB],
  );
  assert.deepEqual(
    ((await get(mailViewer, '/api/v1/releases')).json() as { job: string }[]).map((r) => r.job),
    [TREE.MAIL_JOB],
  );
  assert.deepEqual((await get(mailViewer, `/api/v1/releases?tag=${TREE.JOB}`)).json(), []);
  assertError(await get(t.adminToken, '/api/v1/releases?tag=cop.nope'), 400, 'NOOPS_E_TAG_INVALID');
  assertError(await get(t.adminToken, '/api/v1/releases?limit=x'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/releases', undefined, agents.h1!);
});

routeTest('GET /api/v1/clusters', "clusters with their current version, of the token's subtree", async () => {
  const all = (await get(t.adminToken, '/api/v1/clusters')).json() as { tag: string; hosts: string[]; currentVersion: string | null }[];
  assert.deepEqual(all.map((c) => [c.tag, c.hosts, c.currentVersion]).sort(), [
    [TREE.MAIL_CLUSTER, ['h2'], 'bcdef0001'],
    [TREE.CLUSTER, ['h1'], 'abcdef001'],
  ]);
  assert.deepEqual(
    ((await get(webViewer, '/api/v1/clusters')).json() as { tag: string }[]).map((c) => c.tag),
    [TREE.CLUSTER],
  );
  assertError(await get(t.adminToken, '/api/v1/clusters?limit=0'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/clusters', undefined, agents.h1!);
});

routeTest('GET /api/v1/history', "a cluster's deployments, newest first; a tag is required; another team's cluster is 403", async () => {
  const rows = (await get(webViewer, `/api/v1/history?tag=${TREE.CLUSTER}`)).json() as { id: number; status: string; version: string }[];
  assert.deepEqual(
    rows.map((d) => [d.id, d.status, d.version]),
    [[webDeployId, 'succeeded', 'abcdef001']],
  );
  assert.deepEqual((await get(t.adminToken, `/api/v1/history?tag=${TREE.CLUSTER}&status=failed`)).json(), []);
  assertError(await get(t.adminToken, '/api/v1/history'), 400, 'NOOPS_E_INPUT', 'no tag');
  assertError(await get(t.adminToken, `/api/v1/history?tag=${TREE.CLUSTER}&status=weird`), 400, 'NOOPS_E_INPUT');
  assertError(await get(t.adminToken, `/api/v1/history?tag=${TREE.CLUSTER}&limit=-1`), 400, 'NOOPS_E_INPUT');
  assertError(await get(t.adminToken, `/api/v1/history?tag=${TREE.CLUSTER}&before=x`), 400, 'NOOPS_E_INPUT');
  assertError(await get(t.adminToken, '/api/v1/history?tag=cop.nope'), 400, 'NOOPS_E_TAG_INVALID', 'not a cluster');
  assertError(await get(webViewer, `/api/v1/history?tag=${TREE.MAIL_CLUSTER}`), 403, 'NOOPS_E_FORBIDDEN');
  await assertPeopleOnly(t, 'GET', `/api/v1/history?tag=${TREE.CLUSTER}`, undefined, agents.h1!);
});

routeTest('GET /api/v1/deployments/:id', "one deployment; another team's, a missing one or a bad id is 404", async () => {
  const d = (await get(webViewer, `/api/v1/deployments/${webDeployId}`)).json();
  assert.deepEqual([d.id, d.tag, d.status, d.kind, d.hostCount, d.hosts], [webDeployId, TREE.CLUSTER, 'succeeded', 'deploy', 1, ['h1']]);
  assertError(await get(webViewer, `/api/v1/deployments/${mailDeployId}`), 404, 'NOOPS_E_NOT_FOUND', 'another subtree');
  assertError(await get(t.adminToken, '/api/v1/deployments/999'), 404, 'NOOPS_E_NOT_FOUND');
  assertError(await get(t.adminToken, '/api/v1/deployments/abc'), 404, 'NOOPS_E_NOT_FOUND');
  assertError(await get(t.adminToken, `/api/v1/deployments/${webDeployId}?x=1`), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', `/api/v1/deployments/${webDeployId}`, undefined, agents.h1!);
});

routeTest('GET /api/v1/audit', 'the admin sees every entry; a team only those under its scope; paged by ?before=', async () => {
  const all = (await get(t.adminToken, '/api/v1/audit')).json() as { id: number; action: string; target: string }[];
  assert.ok(
    all.some((a) => a.action === 'agent.join') && all.some((a) => a.action === 'deploy' && a.target === TREE.MAIL_CLUSTER),
    JSON.stringify(all.map((a) => a.action)),
  );
  const web = (await get(webViewer, '/api/v1/audit')).json() as { target: string }[];
  assert.ok(web.length > 0 && web.every((a) => a.target.startsWith(TREE.WEB)), JSON.stringify(web));
  const page = await get(t.adminToken, '/api/v1/audit?limit=2');
  assert.equal((page.json() as unknown[]).length, 2);
  const next = page.headers['x-noops-next'] as string;
  assert.ok(((await get(t.adminToken, `/api/v1/audit?before=${next}`)).json() as { id: number }[]).every((a) => a.id < Number(next)));
  assert.ok(
    ((await get(t.adminToken, '/api/v1/audit?action=agent.join')).json() as { action: string }[]).every((a) => a.action === 'agent.join'),
  );
  for (const q of ['limit=0', 'limit=x', 'before=0', 'x=1'])
    assertError(await get(t.adminToken, `/api/v1/audit?${q}`), 400, 'NOOPS_E_INPUT', q);
  await assertPeopleOnly(t, 'GET', '/api/v1/audit', undefined, agents.h1!);
});
