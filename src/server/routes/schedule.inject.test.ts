/** The scheduler's routes through `inject()`: plan, scale, rebalance, history; who may call them. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, routeTest, startTestApp, TREE, type TestApp, until } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webViewer: string;
let webDeployer: string;
let mailDeployer: string;
const GiB = 1024 ** 3;
const enc = encodeURIComponent;
const SPEC = { count: 2, cpu: 1, memory: 256 * 1024 ** 2, constraints: [], distinctHosts: false, spread: null };

before(async () => {
  t = await startTestApp({ longPollMs: 50 });
  for (const h of ['h1', 'h2', 'h3']) {
    agents[h] = await t.agent(h);
    await t.report(agents[h]!, {});
    // 1.5 cores: one instance of 1 core per host (replicas on one host: schedule-replicas.test.ts)
    await t.ctx.store.schedule.setHostCapacity(h, { cpu: h === 'h3' ? 0.5 : 1.5, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
    await t.ctx.store.updateHost(h, { scope: TREE.WEB }); // the scheduler uses only hosts assigned to a node above the cluster
  }
  // a host of another team's part of the tree: never placed on, and not named to the web team
  agents.h4 = await t.agent('h4');
  await t.report(agents.h4, {});
  await t.ctx.store.schedule.setHostCapacity('h4', { cpu: 1.5, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
  await t.ctx.store.updateHost('h4', { scope: TREE.MAIL });
  await t.cluster(TREE.CLUSTER, ['h1']);
  await t.cluster(TREE.MAIL_CLUSTER, ['h2']);
  await t.ctx.store.schedule.setClusterSchedule(TREE.CLUSTER, SPEC);
  webViewer = await t.team(TREE.WEB, 'viewer');
  webDeployer = await t.team(TREE.WEB, 'deployer');
  mailDeployer = await t.team(TREE.MAIL, 'deployer');
});
after(() => t.close());

routeTest('GET /api/v1/clusters/:tag/plan', 'where each instance would go, and why each other host is left out', async () => {
  const res = await t.call(webViewer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/plan`);
  assert.equal(res.statusCode, 200, res.body);
  const plan = res.json();
  assert.equal(plan.tag, TREE.CLUSTER);
  assert.equal(plan.placements.length, 2);
  assert.ok(
    plan.placements.some((p: { host: string }) => p.host === 'h1'),
    'the current host is kept',
  );
  assert.ok(
    plan.filtered.some((f: { host: string; reason: string }) => f.host === 'h3' && /cpu/.test(f.reason)),
    `h3 is left out for its cores: ${res.body}`,
  );
  assert.equal(plan.unplaced, 0);
  assert.ok(!plan.filtered.some((f: { host: string }) => f.host === 'h4'), "another team's host is not named to this team");
  const asAdmin = (await t.call(t.adminToken, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/plan`)).json();
  assert.ok(
    asAdmin.filtered.some((f: { host: string; reason: string }) => f.host === 'h4' && f.reason === `assigned to ${TREE.MAIL}`),
    `the admin sees why h4 is left out: ${JSON.stringify(asAdmin)}`,
  );
  assertError(await t.call(mailDeployer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/plan`), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(t.adminToken, 'GET', `/api/v1/clusters/${enc(TREE.MAIL_CLUSTER)}/plan`), 409, 'NOOPS_E_NOT_SCHEDULED');
  // a cluster never set is unknown, not "named by hand"
  assertError(
    await t.call(t.adminToken, 'GET', `/api/v1/clusters/${enc(`${TREE.JOB}_cluster.none`)}/plan`),
    404,
    'NOOPS_E_CLUSTER_UNKNOWN',
  );
});

routeTest('GET /api/v1/clusters/:tag/placements', 'the loop places the cluster, and its history says why', async () => {
  await until('the loop to place the second instance', async () => ((await t.ctx.store.getCluster(TREE.CLUSTER))?.hosts.length ?? 0) === 2);
  const res = await t.call(webViewer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/placements`);
  assert.equal(res.statusCode, 200, res.body);
  const events = res.json() as { kind: string; from: string | null; to: string | null; reason: string }[];
  assert.equal(events.length, 1);
  assert.deepEqual([events[0]!.kind, events[0]!.from, events[0]!.to], ['scale', null, 'h2']);
  assert.ok(events[0]!.reason.length > 0);
  assert.deepEqual((await t.call(webViewer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/placements?limit=1&before=1`)).json(), []);
  assertError(await t.call(mailDeployer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/placements`), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(webViewer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/placements?limit=0`), 400, 'NOOPS_E_INPUT');
});

routeTest('POST /api/v1/clusters/:tag/scale', 'sets the count: the loop follows it, up and down', async () => {
  const up = await t.call(webDeployer, 'POST', `/api/v1/clusters/${enc(TREE.CLUSTER)}/scale`, { count: 3 });
  assert.equal(up.statusCode, 200, up.body);
  assert.equal(up.json().placements.length, 2, 'h3 offers half a core: only two fit');
  assert.equal(up.json().unplaced, 1);
  assert.equal((await t.ctx.store.getCluster(TREE.CLUSTER))?.schedule?.count, 3);
  const down = await t.call(webDeployer, 'POST', `/api/v1/clusters/${enc(TREE.CLUSTER)}/scale`, { count: 1 });
  assert.equal(down.json().placements.length, 1);
  await until('the loop to scale down', async () => ((await t.ctx.store.getCluster(TREE.CLUSTER))?.hosts.length ?? 0) === 1);
  const [last] = (await t.call(webViewer, 'GET', `/api/v1/clusters/${enc(TREE.CLUSTER)}/placements`)).json();
  assert.deepEqual([last.kind, last.to], ['scale', null]);
  assertError(await t.call(webViewer, 'POST', `/api/v1/clusters/${enc(TREE.CLUSTER)}/scale`, { count: 2 }), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(webDeployer, 'POST', `/api/v1/clusters/${enc(TREE.CLUSTER)}/scale`, { count: -1 }), 400, 'NOOPS_E_INPUT');
  assertError(
    await t.call(mailDeployer, 'POST', `/api/v1/clusters/${enc(TREE.MAIL_CLUSTER)}/scale`, { count: 2 }),
    409,
    'NOOPS_E_NOT_SCHEDULED',
  );
  assertError(
    await t.call(webDeployer, 'POST', `/api/v1/clusters/${enc(`${TREE.JOB}_cluster.none`)}/scale`, { count: 2 }),
    404,
    'NOOPS_E_CLUSTER_UNKNOWN',
  );
});

routeTest('POST /api/v1/rebalance', 'a dry run changes nothing; a team moves only its own clusters', async () => {
  const before = await t.ctx.store.getCluster(TREE.CLUSTER);
  const dry = await t.call(webDeployer, 'POST', '/api/v1/rebalance', { maxMoves: 5, dryRun: true });
  assert.equal(dry.statusCode, 200, dry.body);
  assert.equal(dry.json().dryRun, true);
  assert.ok(Array.isArray(dry.json().moves) && dry.json().moves.length <= 5);
  assert.deepEqual((await t.ctx.store.getCluster(TREE.CLUSTER))?.hosts, before?.hosts);
  const mail = (await t.call(mailDeployer, 'POST', '/api/v1/rebalance', { dryRun: true })).json();
  assert.deepEqual(mail.moves, [], 'no cluster of its own is scheduled');
  const real = await t.call(t.adminToken, 'POST', '/api/v1/rebalance', { maxMoves: 0 });
  assert.deepEqual(real.json(), { dryRun: false, moves: [], freedHosts: real.json().freedHosts });
  assertError(await t.call(webViewer, 'POST', '/api/v1/rebalance', {}), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(webDeployer, 'POST', '/api/v1/rebalance', { maxMoves: 'all' }), 400, 'NOOPS_E_INPUT');
});
