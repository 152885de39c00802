/**
 * The scheduler's keys through `inject()` (issue 18): a host's reported capacity and what the
 * scheduled clusters ask of it in `GET /hosts`, draining a host, and a cluster set to a count.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { HostView, ClusterView } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
const G = 1024 ** 3;
const M = 1024 ** 2;
const CAP = { cpu: 4, memory: 8 * G, disk: 100 * G, freePorts: 28200 };

before(async () => {
  t = await startTestApp();
  for (const h of ['h1', 'h2', 'h3']) {
    agents[h] = await t.agent(h);
    await t.ctx.store.updateHost(h, { scope: TREE.ROOT }); // the scheduler uses only hosts assigned to a node above the cluster
  }
});
after(() => t.close());

const hosts = async (): Promise<Record<string, HostView>> =>
  Object.fromEntries(((await t.call(t.adminToken, 'GET', '/api/v1/hosts')).json() as HostView[]).map((h) => [h.name, h]));

routeTest(
  'PUT /api/v1/clusters',
  'a count makes a cluster scheduled (its hosts kept); hosts make it hand-placed again; not both',
  async () => {
    assert.equal((await t.cluster(TREE.CLUSTER, ['h1'])).statusCode, 200);
    // h1 reports what it offers first: the scheduler loop (it runs in this app) keeps only hosts that fit
    assert.equal((await t.report(agents.h1!, { capacity: CAP })).statusCode, 200);
    // distinct hosts: one instance on h1 (else the loop would run all three there as replicas)
    const spec = { count: 3, cpu: '0.5', memory: '256M', constraints: ['rack!=r3'], distinctHosts: true, spread: 'rack' };
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, schedule: spec });
    assert.equal(res.statusCode, 200, res.body);
    const view = res.json() as ClusterView;
    assert.deepEqual(view.hosts, ['h1'], 'its hosts are its first placements: nothing placed or stopped by the route');
    assert.deepEqual(view.schedule, {
      count: 3,
      cpu: 0.5,
      memory: 256 * M,
      constraints: [{ label: 'rack', op: '!=', value: 'r3' }],
      distinctHosts: true,
      spread: 'rack',
    });
    const listed = (await t.call(t.adminToken, 'GET', '/api/v1/clusters')).json() as ClusterView[];
    assert.deepEqual(listed.find((c) => c.tag === TREE.CLUSTER)?.schedule, view.schedule);

    // a policy alone keeps the spec
    const policy = await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, policy: { batch: 2 } });
    assert.deepEqual((policy.json() as ClusterView).schedule, view.schedule);

    // what scheduled clusters ask shows on their hosts
    const h = await hosts();
    assert.deepEqual(h.h1?.capacity, CAP);
    assert.deepEqual(h.h1?.allocated, { cpu: 0.5, memory: 256 * M, disk: 0 });
    assert.deepEqual(h.h2?.allocated, { cpu: 0, memory: 0, disk: 0 });
    assert.equal(h.h2?.capacity, undefined, 'a host that never reported its capacity shows none');

    assertError(
      await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h2'], schedule: { count: 1 } }),
      400,
      'NOOPS_E_INPUT',
      'hosts and a count',
    );
    assertError(
      await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, schedule: { count: 1, memory: 'lots' } }),
      400,
      'NOOPS_E_INPUT',
      'a bad size',
    );
    assertError(
      await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, schedule: { count: 1, gpu: 1 } }),
      400,
      'NOOPS_E_INPUT',
      'an unknown key',
    );

    const hand = await t.call(t.adminToken, 'PUT', '/api/v1/clusters', { tag: TREE.CLUSTER, hosts: ['h1', 'h2'] });
    assert.equal(hand.statusCode, 200, hand.body);
    assert.equal((hand.json() as ClusterView).schedule, undefined, 'hosts clear the spec');
    assert.deepEqual((await hosts()).h1?.allocated, { cpu: 0, memory: 0, disk: 0 });

    // a new cluster may start with a count and no hosts (count 0 allowed)
    const fresh = await t.call(t.adminToken, 'PUT', '/api/v1/clusters', {
      tag: TREE.MAIL_CLUSTER,
      schedule: { count: 0 },
    });
    assert.equal(fresh.statusCode, 200, fresh.body);
    assert.deepEqual([(fresh.json() as ClusterView).hosts, (fresh.json() as ClusterView).schedule?.count], [[], 0]);
  },
);

routeTest('POST /api/v1/clusters/apply', 'a job section with count: sets a scheduled cluster', async () => {
  const conf = `cluster:\n  name: sched\n  jobs: [${TREE.JOB}]\n${TREE.JOB}:\n  count: 2\n  memory: 1G\n  distinct_hosts: true\n`;
  const res = await t.call(t.adminToken, 'POST', '/api/v1/clusters/apply', { conf });
  assert.equal(res.statusCode, 200, res.body);
  const [view] = res.json() as ClusterView[];
  assert.equal(view?.tag, `${TREE.JOB}_cluster.sched`);
  assert.deepEqual(view?.hosts, []);
  assert.deepEqual(view?.schedule, { count: 2, cpu: 0, memory: G, constraints: [], distinctHosts: true, spread: null });
  const both = `cluster:\n  name: sched\n  jobs: [${TREE.JOB}]\n${TREE.JOB}:\n  host: [h1]\n  count: 2\n`;
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/clusters/apply', { conf: both }), 400, 'NOOPS_E_CLUSTER_CONF');
});

routeTest('POST /api/v1/hosts/:name/drain', "the admin or a deployer of the host's node drains it; others may not", async () => {
  const res = await t.call(t.adminToken, 'POST', '/api/v1/hosts/h2/drain');
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual([res.json().name, res.json().draining], ['h2', true]);
  assert.equal((await hosts()).h2?.draining, true);
  assert.equal((await hosts()).h3?.draining, false);

  // a team: only on a host assigned to its part of the tree, and as a deployer
  const deployer = await t.team(TREE.WEB, 'deployer');
  const viewer = await t.team(TREE.WEB, 'viewer');
  const mail = await t.team(TREE.MAIL, 'deployer');
  assertError(await t.call(deployer, 'POST', '/api/v1/hosts/h3/drain'), 403, 'NOOPS_E_FORBIDDEN', 'an unassigned host');
  assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h3/scope', { scope: TREE.WEB })).statusCode, 200);
  assertError(await t.call(viewer, 'POST', '/api/v1/hosts/h3/drain'), 403, 'NOOPS_E_FORBIDDEN', 'a viewer');
  assertError(await t.call(mail, 'POST', '/api/v1/hosts/h3/drain'), 403, 'NOOPS_E_FORBIDDEN', "another team's deployer");
  const team = await t.call(deployer, 'POST', '/api/v1/hosts/h3/drain');
  assert.equal(team.statusCode, 200, team.body);
  assert.equal(team.json().draining, true);
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/nope/drain'), 404, 'NOOPS_E_HOST_UNKNOWN');
  await assertPeopleOnly(t, 'POST', '/api/v1/hosts/h2/drain', undefined, agents.h1!);
  const audit = (await t.call(t.adminToken, 'GET', '/api/v1/audit?action=host.drain')).json() as { target: string; detail: unknown }[];
  assert.deepEqual(
    audit.map((a) => a.detail),
    [
      { host: 'h3', was: false },
      { host: 'h2', was: false },
    ],
  );
});

routeTest('POST /api/v1/hosts/:name/undrain', 'clears the flag; the same who-may as drain', async () => {
  const mail = await t.team(TREE.MAIL, 'deployer');
  assertError(await t.call(mail, 'POST', '/api/v1/hosts/h3/undrain'), 403, 'NOOPS_E_FORBIDDEN');
  const res = await t.call(t.adminToken, 'POST', '/api/v1/hosts/h2/undrain');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().draining, false);
  const team = await t.call(await t.team(TREE.WEB, 'deployer'), 'POST', '/api/v1/hosts/h3/undrain');
  assert.equal(team.json().draining, false);
  assert.equal((await hosts()).h3?.draining, false);
  await assertPeopleOnly(t, 'POST', '/api/v1/hosts/h2/undrain', undefined, agents.h1!);
});

routeTest('POST /api/v1/agent/report', "a report's capacity is stored when it changed, and refused when malformed", async () => {
  assert.equal((await t.report(agents.h2!, { capacity: { ...CAP, cpu: 2 } })).statusCode, 200);
  assert.equal((await hosts()).h2?.capacity?.cpu, 2);
  assert.equal((await t.report(agents.h2!, {})).statusCode, 200, 'a report without capacity (an older agent) keeps it');
  assert.equal((await hosts()).h2?.capacity?.cpu, 2);
  assertError(await t.report(agents.h2!, { capacity: { ...CAP, gpu: 1 } }), 400, 'NOOPS_E_INPUT');
  assertError(await t.report(agents.h2!, { capacity: { cpu: 1 } }), 400, 'NOOPS_E_INPUT');
});
