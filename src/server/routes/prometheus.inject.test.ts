/** Prometheus through `inject()`: the server's figures (GET /metrics) and the scrape targets by tag. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp, upProcess } from '../test-app.js';

let t: TestApp;
let h1: string;
let h2: string;

before(async () => {
  t = await startTestApp();
  // h1 is reached at the address its `address` label names (`noops agent --labels`); h2 where its agent connects from
  h1 = (await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'h1', labels: { address: '10.0.0.1' } })).json().token;
  h2 = await t.agent('h2');
  await t.cluster(TREE.CLUSTER, ['h1', 'h2']);
  await t.cluster(TREE.MAIL_CLUSTER, ['h2']);
  assert.equal(
    (await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'v1'), { ...upProcess(TREE.CLUSTER, 'v1', 'worker'), port: null }] }))
      .statusCode,
    200,
  );
  const stopped = { ...upProcess(TREE.CLUSTER, 'v1'), state: 'stopped', pid: null };
  const mail = { ...upProcess(TREE.MAIL_CLUSTER, 'v7', 'smtp'), port: 2525 };
  assert.equal((await t.report(h2, { processes: [stopped, mail] })).statusCode, 200);
});
after(() => t.close());

/** A figure's value in the text format (the first line of `name{labels}`), or undefined. */
function figure(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('GET /metrics: the figures in Prometheus text format for a viewer token (a scraper) or the admin', async () => {
  const now = Math.floor(Date.now() / 1000);
  const push = [2, 1, 0].map((i) => ({
    endpoint: 'h1',
    metric: 'app.qps',
    timestamp: now - 60 * i,
    step: 60,
    value: i,
    counterType: 'GAUGE',
    tags: '',
  }));
  const pushed = await t.call(t.adminToken, 'POST', '/api/v1/push', push);
  assert.equal(pushed.statusCode, 200);
  const scraper = await t.team(TREE.ROOT, 'viewer', 'prometheus');
  const res = await t.call(scraper, 'GET', '/metrics');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const text = res.body;
  assert.match(text, /^# HELP process_cpu_user_seconds_total /m);
  assert.match(text, /^# TYPE noops_http_requests_total counter$/m);
  assert.ok((figure(text, 'process_resident_memory_bytes') ?? 0) > 0);
  // V8's heap: what is in use is part of what it holds
  const heap = { used: figure(text, 'nodejs_heap_used_bytes') ?? 0, total: figure(text, 'nodejs_heap_total_bytes') ?? 0 };
  assert.ok(heap.used > 0 && heap.used <= heap.total, JSON.stringify(heap));
  assert.ok((figure(text, 'nodejs_external_memory_bytes') ?? 0) > 0);
  assert.ok((figure(text, 'nodejs_heap_space_size_total_bytes', '{space="old"}') ?? 0) > 0);
  assert.ok((figure(text, 'nodejs_heap_space_size_used_bytes', '{space="new"}') ?? -1) >= 0);
  assert.equal(figure(text, 'noops_agents_known'), 2);
  assert.equal(figure(text, 'noops_agents_up'), 2);
  assert.ok((figure(text, 'noops_reports_received_total') ?? 0) >= 2, text);
  assert.equal(figure(text, 'noops_points_ingested_total', '{outcome="accepted"}'), 3);
  assert.equal(figure(text, 'noops_points_ingested_total', '{outcome="stale"}'), 0);
  assert.equal(figure(text, 'noops_alarms_sent_total'), 0);
  assert.equal(figure(text, 'noops_leases_held', '{loop="rollout"}'), 1); // alone on SQLite, it leads every loop
  // calls counted by route pattern and status, never by the names in the URL
  assert.equal(figure(text, 'noops_http_requests_total', '{method="POST",route="/api/v1/agent/report",status="200"}'), 2);
  assert.doesNotMatch(text, /h1|h2|cop\.acme|app\.qps/);
  assert.equal((await t.call(t.adminToken, 'GET', '/metrics')).statusCode, 200);
  const again = (await t.call(t.adminToken, 'GET', '/metrics')).body;
  assert.ok((figure(again, 'noops_http_requests_total', '{method="GET",route="/metrics",status="200"}') ?? 0) >= 2);
  // no VictoriaMetrics configured: none of its figures
  assert.doesNotMatch(text, /noops_victoria_/);
});

test('GET /metrics: refused without a token (401), to agents and join tokens (403), and with parameters (400)', async () => {
  await assertPeopleOnly(t, 'GET', '/metrics', undefined, h1);
  assertError(await t.call(t.adminToken, 'GET', '/metrics?x=1'), 400, 'NOOPS_E_INPUT');
});

routeTest('GET /api/v1/prometheus/targets', 'each running instance with a port, host:port, labelled by its tag levels', async () => {
  const res = await t.call(t.adminToken, 'GET', '/api/v1/prometheus/targets');
  assert.equal(res.statusCode, 200, res.body);
  const groups = res.json() as { targets: string[]; labels: Record<string, string> }[];
  const byTarget = new Map(groups.map((g) => [g.targets.join(','), g.labels]));
  // the worker has no port, h2's web is stopped: neither is a target
  assert.deepEqual([...byTarget.keys()].sort(), ['10.0.0.1:3000', '127.0.0.1:2525']);
  assert.deepEqual(byTarget.get('10.0.0.1:3000'), {
    cop: 'acme',
    owt: 'web',
    pdl: 'shop',
    service: 'api',
    job: 'web',
    cluster: 'prod',
    host: 'h1',
    process: 'web',
    version: 'v1',
    noops_tag: TREE.CLUSTER,
  });
  assert.deepEqual(byTarget.get('127.0.0.1:2525'), {
    cop: 'acme',
    owt: 'mail',
    pdl: 'post',
    service: 'smtp',
    job: 'relay',
    cluster: 'prod',
    host: 'h2',
    process: 'smtp',
    version: 'v7',
    noops_tag: TREE.MAIL_CLUSTER,
  });
});

routeTest('GET /api/v1/prometheus/targets', '?selector= filters by tag; a team sees only its subtree', async () => {
  const only = (await t.call(t.adminToken, 'GET', '/api/v1/prometheus/targets?selector=owt=mail')).json() as { targets: string[] }[];
  assert.deepEqual(
    only.map((g) => g.targets[0]),
    ['127.0.0.1:2525'],
  );
  const web = await t.team(TREE.WEB, 'viewer');
  const seen = (await t.call(web, 'GET', '/api/v1/prometheus/targets')).json() as { targets: string[] }[];
  assert.deepEqual(
    seen.map((g) => g.targets[0]),
    ['10.0.0.1:3000'],
  );
  const none = (await t.call(web, 'GET', '/api/v1/prometheus/targets?selector=owt=mail')).json() as unknown[];
  assert.deepEqual(none, []);
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/prometheus/targets?selector=nonsense'), 400, 'NOOPS_E_SELECTOR_INVALID');
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/prometheus/targets?other=1'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/prometheus/targets', undefined, h1);
});
