/**
 * Metrics through `inject()`: Falcon's push and who may push for what, agents' report points,
 * the series list and a series' history, scoped like every read.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { allSeries, type ApiClient } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webDeployer: string;
let webViewer: string;

const NOW = Math.floor(Date.now() / 1000);
const point = (endpoint: string, metric: string, value: number, over: Record<string, unknown> = {}) => ({
  endpoint,
  metric,
  timestamp: NOW - 120,
  step: 60,
  value,
  counterType: 'GAUGE',
  tags: '',
  ...over,
});
/** An instance's tags: its node's pairs (unsorted, as a plugin may send them) and its process. */
const instanceTags = (tag: string) =>
  `${tag
    .split('_')
    .map((p) => p.replace('.', '='))
    .join(',')},process=web`;

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  assert.equal((await t.cluster(TREE.CLUSTER, ['h1'])).statusCode, 200);
  assert.equal((await t.cluster(TREE.MAIL_CLUSTER, ['h2'])).statusCode, 200);
  webDeployer = await t.team(TREE.WEB, 'deployer');
  webViewer = await t.team(TREE.WEB, 'viewer');
});
after(() => t.close());

routeTest('POST /api/v1/push', "Falcon's answer and validation; refused whole when not a list or too big", async () => {
  const res = await t.call(t.adminToken, 'POST', '/api/v1/push', [
    point('h1', 'app.qps', 10),
    point('h1', 'app.bad', 1, { counterType: 'RATE' }),
    point('h1', 'app.noval', 1, { value: 'x' }),
  ]);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as {
    message: string;
    total: number;
    invalid: number;
    latency: number;
    errors: { index: number; reason: string }[];
  };
  assert.deepEqual([body.message, body.total, body.invalid], ['ok', 3, 2]);
  assert.ok(Number.isInteger(body.latency) && body.latency >= 0);
  assert.deepEqual(
    body.errors.map((e) => e.index),
    [1, 2],
  );
  assert.match(body.errors[0]!.reason, /counterType/);
  await t.ctx.metrics.ingest.flush();
  assert.deepEqual(
    (await t.ctx.store.listMetricSeries({ metric: 'app.qps' })).map((s) => [s.key, s.lastValue]),
    [['h1/app.qps', 10]],
  );
  const notList = await t.call(t.adminToken, 'POST', '/api/v1/push', { endpoint: 'h1' });
  assertError(notList, 400, 'NOOPS_E_INPUT');
  assert.match((notList.json() as { hint: string }).hint, /\[\{"endpoint"/);
  const tooMany = await t.call(
    t.adminToken,
    'POST',
    '/api/v1/push',
    Array.from({ length: 10_001 }, () => point('h1', 'm', 1)),
  );
  assertError(tooMany, 400, 'NOOPS_E_INPUT');
  assert.match((tooMany.json() as { hint: string }).hint, /split/);
});

routeTest(
  'POST /api/v1/push',
  'an agent pushes for its own host only; a team for hosts and instances under its node; viewers and join tokens not at all',
  async () => {
    const ok = (res: { statusCode: number; body: string }) => assert.equal(res.statusCode, 200, res.body);
    ok(await t.call(agents.h1!, 'POST', '/api/v1/push', [point('h1', 'agent.own', 1)]));
    assertError(
      await t.call(agents.h1!, 'POST', '/api/v1/push', [point('h1', 'x', 1), point('h2', 'x', 1)]),
      403,
      'NOOPS_E_FORBIDDEN',
      'an agent for another host',
    );
    // h1 is in the web team's cluster, h2 in the mail team's
    ok(await t.call(webDeployer, 'POST', '/api/v1/push', [point('h1', 'team.host', 1)]));
    ok(await t.call(webDeployer, 'POST', '/api/v1/push', [point('h1', 'team.instance', 1, { tags: instanceTags(TREE.CLUSTER) })]));
    assertError(
      await t.call(webDeployer, 'POST', '/api/v1/push', [point('h2', 'team.instance', 1, { tags: instanceTags(TREE.CLUSTER) })]),
      403,
      'NOOPS_E_FORBIDDEN',
      "its instance's tags on another team's host",
    );
    assertError(
      await t.call(webDeployer, 'POST', '/api/v1/push', [point('h2', 'team.host', 1)]),
      403,
      'NOOPS_E_FORBIDDEN',
      "another team's host",
    );
    assertError(
      await t.call(webDeployer, 'POST', '/api/v1/push', [point('h1', 'team.instance', 1, { tags: instanceTags(TREE.MAIL_CLUSTER) })]),
      403,
      'NOOPS_E_FORBIDDEN',
      "another team's instance",
    );
    assertError(
      await t.call(webDeployer, 'POST', '/api/v1/push', [point('nowhere', 'team.host', 1)]),
      403,
      'NOOPS_E_FORBIDDEN',
      'an unknown host',
    );
    assertError(await t.call(webViewer, 'POST', '/api/v1/push', [point('h1', 'team.host', 1)]), 403, 'NOOPS_E_FORBIDDEN', 'a viewer');
    assertError(await t.call(t.joinToken, 'POST', '/api/v1/push', [point('h1', 'x', 1)]), 403, 'NOOPS_E_FORBIDDEN', 'a join token');
    assertError(await t.call(null, 'POST', '/api/v1/push', [point('h1', 'x', 1)]), 401, 'NOOPS_E_UNAUTHORIZED', 'no token');
  },
);

routeTest('POST /api/v1/push', 'a team may push for a host the moment it is given one, and not once it is taken back', async () => {
  await t.agent('h3');
  // the hosts' scopes are read and kept (metrics-scope.ts) ...
  assertError(await t.call(webDeployer, 'POST', '/api/v1/push', [point('h3', 'team.host', 1)]), 403, 'NOOPS_E_FORBIDDEN');
  // ... and forgotten when a host's scope changes (bus `tree`): the team's at once
  assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h3/scope', { scope: TREE.WEB })).statusCode, 200);
  const res = await t.call(webDeployer, 'POST', '/api/v1/push', [point('h3', 'team.host', 1)]);
  assert.equal(res.statusCode, 200, res.body);
  await t.ctx.metrics.ingest.flush();
  const history = await t.call(webViewer, 'GET', `/api/v1/metrics/history?key=${encodeURIComponent('h3/team.host')}`);
  assert.equal(history.statusCode, 200, history.body);
  assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/hosts/h3/scope', { scope: null })).statusCode, 200);
  assertError(await t.call(webDeployer, 'POST', '/api/v1/push', [point('h3', 'team.host', 2)]), 403, 'NOOPS_E_FORBIDDEN');
});

routeTest('POST /api/v1/agent/report', "a report's metrics are ingested; a point for another endpoint is refused and counted", async () => {
  const refusedBefore = t.ctx.metrics.ingest.counters.refused;
  const res = await t.report(agents.h2!, {
    metrics: [
      point('h2', 'load.1min', 0.5),
      point('h1', 'load.1min', 9),
      point('h2', 'df.bytes.free.percent', 40, { tags: 'mount=/,fstype=ext4' }),
    ],
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(t.ctx.metrics.ingest.counters.refused - refusedBefore, 1);
  await t.ctx.metrics.ingest.flush();
  assert.deepEqual(
    (await t.ctx.store.listMetricSeries({ endpoint: 'h2' })).map((s) => s.key),
    ['h2/df.bytes.free.percent/fstype=ext4,mount=/', 'h2/load.1min'],
  );
  assert.equal((await t.ctx.store.listMetricSeries({ endpoint: 'h1', metric: 'load.1min' })).length, 0);
});

routeTest(
  'POST /api/v1/agent/report',
  "a point that breaks Falcon's rules refuses the report whole: one check, the report's schema",
  async () => {
    for (const bad of [{ step: 0 }, { metric: '' }, { value: '1' }])
      assertError(await t.report(agents.h2!, { metrics: [point('h2', 'load.5min', 1, bad)] }), 400, 'NOOPS_E_INPUT', JSON.stringify(bad));
    await t.ctx.metrics.ingest.flush();
    assert.equal((await t.ctx.store.listMetricSeries({ endpoint: 'h2', metric: 'load.5min' })).length, 0);
  },
);

routeTest(
  'GET /api/v1/metrics/series',
  "the store's series, by host, metric and selector; a team sees its own hosts' and instances'",
  async () => {
    await t.ctx.metrics.ingest.flush();
    const all = (await t.call(t.adminToken, 'GET', '/api/v1/metrics/series')).json() as {
      series: { key: string; lastValue: number; step: number }[];
    };
    assert.ok(
      all.series.some((s) => s.key === 'h1/app.qps' && s.lastValue === 10 && s.step === 60),
      JSON.stringify(all),
    );
    const keys = async (token: string, query = '') =>
      ((await t.call(token, 'GET', `/api/v1/metrics/series${query}`)).json() as { series: { key: string }[] }).series.map((s) => s.key);
    assert.deepEqual(await keys(t.adminToken, '?host=h2&metric=load.1min'), ['h2/load.1min']);
    const web = await keys(webViewer);
    assert.ok(web.includes('h1/app.qps') && web.some((k) => k.startsWith('h1/team.instance/cluster=prod,cop=acme,')), JSON.stringify(web));
    assert.ok(!web.includes('h2/load.1min'), 'a host of another team');
    assert.deepEqual(await keys(t.adminToken, '?selector=owt=mail&metric=load.1min'), ['h2/load.1min']);
    assert.equal((await keys(t.adminToken, '?limit=1')).length, 1);
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/metrics/series?limit=0'), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', '/api/v1/metrics/series', undefined, agents.h1!);
  },
);

routeTest(
  'GET /api/v1/metrics/series',
  'pages in key order: `limit` and `cursor`, `next` (and x-noops-next) until the last; the client follows them',
  async () => {
    const tagged = (host: string, n: number) => point(host, 'page.m', n, { tags: `n=${n}` });
    const pushed = [...[0, 1, 2, 3, 4, 5, 6].map((n) => tagged('h1', n)), ...[0, 1, 2, 3, 4].map((n) => tagged('h2', n))];
    assert.equal((await t.call(t.adminToken, 'POST', '/api/v1/push', pushed)).statusCode, 200);
    await t.ctx.metrics.ingest.flush();
    const pages = async (token: string, size: number) => {
      const sizes: number[] = [];
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await t.call(
          token,
          'GET',
          `/api/v1/metrics/series?metric=page.m&limit=${size}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json() as { series: { key: string }[]; next?: string };
        assert.equal(res.headers['x-noops-next'], page.next, 'the header says what the body says');
        sizes.push(page.series.length);
        keys.push(...page.series.map((s) => s.key));
        cursor = page.next;
      } while (cursor !== undefined);
      return { sizes, keys };
    };
    const whole = (await t.call(t.adminToken, 'GET', '/api/v1/metrics/series?metric=page.m')).json() as {
      series: { key: string }[];
      next?: string;
    };
    assert.equal(whole.next, undefined, 'one page holds them all: no next');
    assert.equal(whole.series.length, 12);
    assert.deepEqual(await pages(t.adminToken, 5), { sizes: [5, 5, 2], keys: whole.series.map((s) => s.key) });
    assert.deepEqual(
      await pages(t.adminToken, 4),
      { sizes: [4, 4, 4], keys: whole.series.map((s) => s.key) },
      'a full last page has no next',
    );
    const team = await pages(webViewer, 3);
    assert.deepEqual(team.sizes, [3, 3, 1], "a team's pages skip another team's series");
    assert.deepEqual(
      team.keys,
      [0, 1, 2, 3, 4, 5, 6].map((n) => `h1/page.m/n=${n}`),
    );
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/metrics/series?cursor='), 400, 'NOOPS_E_INPUT');

    // the CLI's `noops metrics series` follows the pages (default page: 1,000)
    const many = Array.from({ length: 1005 }, (_, n) => point('h1', 'page.big', n, { tags: `n=${String(n).padStart(4, '0')}` }));
    assert.equal((await t.call(t.adminToken, 'POST', '/api/v1/push', many)).statusCode, 200);
    await t.ctx.metrics.ingest.flush();
    const asked: string[] = [];
    const client = {
      request: async (method: 'GET', path: string) => {
        asked.push(path);
        const res = await t.call(t.adminToken, method, `/api/v1${path}`);
        assert.equal(res.statusCode, 200, res.body);
        return res.json();
      },
    } as unknown as ApiClient;
    const every = await allSeries(client, { metric: 'page.big' });
    assert.equal(asked.length, 2, asked.join(' '));
    assert.deepEqual(
      every.map((s) => s.key),
      many.map((p) => `h1/page.big/${p.tags}`),
    );
    asked.length = 0;
    assert.equal((await allSeries(client, { metric: 'page.big', limit: 3 })).length, 3);
    assert.deepEqual(asked, ['/metrics/series?metric=page.big&limit=3']);
  },
);

routeTest(
  'GET /api/v1/metrics/history',
  "a series' points between two times, at the resolution asked; another team's series is not found",
  async () => {
    const base = NOW - (NOW % 120) - 3600; // a whole 2-minute bucket, for resolution=120
    const pushes = [0, 1, 2, 3].map((i) => point('h1', 'hist.m', i * 10, { timestamp: base + i * 60 }));
    assert.equal((await t.call(t.adminToken, 'POST', '/api/v1/push', pushes)).statusCode, 200);
    await t.ctx.metrics.ingest.flush();
    const url = `/api/v1/metrics/history?key=${encodeURIComponent('h1/hist.m')}&from=${base}&to=${base + 600}`;
    const raw = (await t.call(webViewer, 'GET', `${url}&resolution=raw`)).json();
    assert.deepEqual(raw, {
      key: 'h1/hist.m',
      endpoint: 'h1',
      metric: 'hist.m',
      tags: '',
      counterType: 'GAUGE',
      resolution: 60,
      points: [
        [base, 0, 0, 0],
        [base + 60, 10, 10, 10],
        [base + 120, 20, 20, 20],
        [base + 180, 30, 30, 30],
      ],
    });
    const coarse = (await t.call(t.adminToken, 'GET', `${url}&resolution=120`)).json() as { resolution: number; points: number[][] };
    assert.deepEqual(coarse.points, [
      [base, 5, 0, 10],
      [base + 120, 25, 20, 30],
    ]);
    assert.equal(coarse.resolution, 120);
    const other = `/api/v1/metrics/history?key=${encodeURIComponent('h2/load.1min')}`;
    assertError(await t.call(webViewer, 'GET', other), 404, 'NOOPS_E_NOT_FOUND');
    assert.equal((await t.call(t.adminToken, 'GET', other)).statusCode, 200);
    assertError(await t.call(t.adminToken, 'GET', `${url}&resolution=0`), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/metrics/history?key=h1/hist.m&from=10&to=5`), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', url, undefined, agents.h1!);
  },
);
