/**
 * The address pool's routes through `inject()`: none set (404), set by the server's admin only
 * (every other caller refused with its code), each check of the spec, the hosts' desired states
 * carrying their subnets (a parked poll answered at once), a team seeing only its own hosts'
 * subnets, and a new pool that would move a running container refused.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredState, NetworkView } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp, upProcess } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
const SPEC = { pool: '198.18.0.0/16', perHost: 24 };

before(async () => {
  t = await startTestApp({ longPollMs: 5_000 });
  for (const h of ['h1', 'h2', 'h3']) agents[h] = await t.agent(h);
  await t.cluster(TREE.CLUSTER, ['h1']); // h1 is the web team's; h2 and h3 no team's
});
after(() => t.close());

async function desired(host: string, after = -1): Promise<DesiredState> {
  const res = await t.call(agents[host]!, 'GET', `/api/v1/agent/desired?after=${after}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as DesiredState;
}

routeTest('GET /api/v1/network', 'no pool set: 404 with its code, and no host is given a network', async () => {
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/network'), 404, 'NOOPS_E_NETWORK_UNSET');
  assert.equal((await desired('h1')).network, undefined);
  await assertPeopleOnly(t, 'GET', '/api/v1/network', undefined, agents.h1!);
});

routeTest('PUT /api/v1/network', "only the server's admin sets the pool: every other caller is refused and nothing is set", async () => {
  await assertPeopleOnly(t, 'PUT', '/api/v1/network', SPEC, agents.h1!);
  for (const role of ['viewer', 'deployer', 'admin'] as const) {
    const team = await t.team(TREE.ROOT, role);
    assertError(await t.call(team, 'PUT', '/api/v1/network', SPEC), 403, 'NOOPS_E_FORBIDDEN', `a team's ${role}`);
  }
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/network'), 404, 'NOOPS_E_NETWORK_UNSET');
});

routeTest('PUT /api/v1/network', 'each check of the spec refuses with NOOPS_E_NETWORK_INVALID naming the flag', async () => {
  const cases: [unknown, RegExp][] = [
    [{ ...SPEC, pool: '198.18.0.0' }, /--pool/],
    [{ ...SPEC, pool: '198.18.0.1/16' }, /did you mean 198\.18\.0\.0\/16/],
    [{ ...SPEC, perHost: 16 }, /--per-host/],
    [{ ...SPEC, perHost: 31 }, /at most \/30/],
    [{ ...SPEC, driver: 'macvlan' }, /--parent: the macvlan driver needs --parent/],
    [{ ...SPEC, parent: 'eth0' }, /the bridge driver takes no --parent/],
    [{ ...SPEC, driver: 'ipvlan' }, /--driver/],
    [{ ...SPEC, subnet: '198.18.0.0/24' }, /unknown field "subnet"/],
  ];
  for (const [body, message] of cases) {
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/network', body);
    assertError(res, 400, 'NOOPS_E_NETWORK_INVALID', JSON.stringify(body));
    assert.match(res.json().message, message);
  }
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/network'), 404, 'NOOPS_E_NETWORK_UNSET');
});

routeTest(
  'PUT /api/v1/network',
  "the admin sets a pool: a parked poll is answered, and each host's desired state carries its own subnet",
  async () => {
    const before = await desired('h1');
    const parked = t.call(agents.h1!, 'GET', `/api/v1/agent/desired?after=${before.generation}`);
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/network', SPEC);
    assert.equal(res.statusCode, 200, res.body);
    const view = res.json() as NetworkView;
    assert.deepEqual({ ...view, hosts: [], updatedAt: '' }, { ...SPEC, driver: 'bridge', parent: null, hosts: [], updatedAt: '' });
    const woken = (await parked).json() as DesiredState;
    assert.ok(woken.generation > before.generation, 'a new generation: the agent applies it');
    assert.deepEqual(woken.network, { name: 'noops', subnet: '198.18.0.0/24', gateway: '198.18.0.1', driver: 'bridge', parent: null });
    assert.equal((await desired('h2')).network?.subnet, '198.18.1.0/24');
    assert.equal((await desired('h1')).network?.subnet, '198.18.0.0/24', 'kept');
    const shown = (await t.call(t.adminToken, 'GET', '/api/v1/network')).json() as NetworkView;
    assert.deepEqual(shown.hosts, [
      { host: 'h1', subnet: '198.18.0.0/24' },
      { host: 'h2', subnet: '198.18.1.0/24' },
    ]);
  },
);

routeTest('GET /api/v1/network', "any person sees the pool; a team sees only its own hosts' subnets", async () => {
  const viewer = await t.team(TREE.WEB, 'viewer');
  const seen = (await t.call(viewer, 'GET', '/api/v1/network')).json() as NetworkView;
  assert.equal(seen.pool, SPEC.pool);
  assert.deepEqual(seen.hosts, [{ host: 'h1', subnet: '198.18.0.0/24' }]);
  const mail = await t.team(TREE.MAIL, 'admin');
  const none = await t.call(mail, 'GET', '/api/v1/network');
  assert.equal(none.statusCode, 200, none.body);
  assert.deepEqual((none.json() as NetworkView).hosts, []);
});

routeTest(
  'PUT /api/v1/network',
  'a new pool that would move a running container is refused (409); one that keeps it goes through',
  async () => {
    await t.report(agents.h2!, {
      processes: [{ ...upProcess(TREE.MAIL_CLUSTER, 'v1'), container: 'c0ffee', address: '198.18.1.2' }],
    });
    const moved = await t.call(t.adminToken, 'PUT', '/api/v1/network', { pool: '198.19.0.0/16', perHost: 24 });
    assertError(moved, 409, 'NOOPS_E_NETWORK_IN_USE');
    assert.match(moved.json().message, /h2/);
    assert.equal(((await t.call(t.adminToken, 'GET', '/api/v1/network')).json() as NetworkView).pool, SPEC.pool, 'nothing changed');
    const wider = await t.call(t.adminToken, 'PUT', '/api/v1/network', { pool: '198.18.0.0/15', perHost: 24 });
    assert.equal(wider.statusCode, 200, wider.body);
    assert.equal((await desired('h2')).network?.subnet, '198.18.1.0/24', 'kept in the wider pool');
    const audit = (await t.call(t.adminToken, 'GET', '/api/v1/audit')).json() as { action: string }[];
    assert.equal(audit.filter((a) => a.action === 'network.set').length, 2);
  },
);

routeTest(
  'POST /api/v1/deployments',
  "a cluster's policy `driver: container` reaches its hosts' desired entries; a cluster without it sends none",
  async () => {
    await t.cluster(TREE.MAIL_CLUSTER, ['h3'], { driver: 'container' });
    const refused = await t.call(t.adminToken, 'PUT', '/api/v1/clusters', {
      tag: TREE.MAIL_CLUSTER,
      hosts: ['h3'],
      policy: { driver: 'vm' },
    });
    assertError(refused, 400, 'NOOPS_E_INPUT');
    await t.release(TREE.MAIL_JOB, 'abc1234de');
    const mail = await t.deploy(TREE.MAIL_CLUSTER, 'abc1234de', { h3: agents.h3! });
    assert.equal(mail.status, 'succeeded');
    const [entry] = (await desired('h3')).instances;
    assert.equal(entry?.driver, 'container');
    await t.release(TREE.JOB, 'def5678ab');
    const web = await t.deploy(TREE.CLUSTER, 'def5678ab', { h1: agents.h1! });
    assert.equal(web.status, 'succeeded');
    const [plain] = (await desired('h1')).instances;
    assert.equal(plain?.version, 'def5678ab');
    assert.equal('driver' in plain!, false, 'absent: a process');
  },
);
