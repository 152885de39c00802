/** Metrics, events and crons as agents report them, through `inject()`: filtered by scope and query. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webViewer: string;

/** Open-Falcon tags of an instance's process: its pairs with "=" and process=NAME, sorted by key as Falcon stores them. */
const falconTags = (tag: string) => [...tag.split('_').map((p) => p.replace('.', '=')), 'process=web'].sort().join(',');
/** A point of `host` (the agent that reports it: a point for another endpoint is refused). */
const metric = (host: string, tag: string, name: string, value: number) => ({
  endpoint: host,
  metric: name,
  value,
  timestamp: 1_700_000_000,
  step: 60,
  counterType: 'GAUGE',
  tags: falconTags(tag),
});
const event = (seq: number, tag: string | null, kind: string) => ({
  seq,
  at: new Date().toISOString(),
  tag,
  name: 'web',
  kind,
  message: `${kind} ${seq}`,
});
const cron = (tag: string) => ({
  tag,
  name: 'nightly',
  schedule: '0 3 * * *',
  running: false,
  nextRunAt: null,
  lastRun: null,
  runs: 0,
  skipped: 0,
});

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  webViewer = await t.team(TREE.WEB, 'viewer');
  for (const [host, tag] of [
    ['h1', TREE.CLUSTER],
    ['h2', TREE.MAIL_CLUSTER],
  ] as const) {
    const res = await t.report(agents[host]!, {
      metrics: [metric(host, tag, 'common.servicerunning', 1), metric(host, tag, 'mem.rss', 42)],
      events: [event(1, tag, 'started'), event(2, null, 'agent')],
      crons: [cron(tag)],
    });
    assert.equal(res.statusCode, 200, res.body);
  }
});
after(() => t.close());

routeTest('GET /api/v1/metrics', 'the latest samples, by selector, host and metric; a team sees its own', async () => {
  const all = (await t.call(t.adminToken, 'GET', '/api/v1/metrics')).json() as { metric: string; tags: string; value: number }[];
  assert.equal(all.length, 4, JSON.stringify(all));
  assert.deepEqual(
    ((await t.call(t.adminToken, 'GET', '/api/v1/metrics?host=h2&metric=mem.rss')).json() as { tags: string }[]).map((m) => m.tags),
    [falconTags(TREE.MAIL_CLUSTER)],
  );
  assert.equal(((await t.call(t.adminToken, 'GET', '/api/v1/metrics?selector=owt=mail')).json() as unknown[]).length, 2);
  const web = (await t.call(webViewer, 'GET', '/api/v1/metrics')).json() as { tags: string }[];
  assert.ok(web.length === 2 && web.every((m) => m.tags === falconTags(TREE.CLUSTER)), JSON.stringify(web));
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/metrics?tag=x'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/metrics', undefined, agents.h1!);
});

routeTest('GET /api/v1/events', "recent events, newest last; a host's own events are the admin's; a bad limit is 400", async () => {
  const all = (await t.call(t.adminToken, 'GET', '/api/v1/events')).json() as { tag: string | null; kind: string }[];
  assert.equal(all.length, 4, JSON.stringify(all));
  assert.equal(((await t.call(t.adminToken, 'GET', '/api/v1/events?limit=1')).json() as unknown[]).length, 1);
  assert.deepEqual(
    ((await t.call(t.adminToken, 'GET', `/api/v1/events?tag=${TREE.MAIL}`)).json() as { tag: string }[]).map((e) => e.tag),
    [TREE.MAIL_CLUSTER],
  );
  const web = (await t.call(webViewer, 'GET', '/api/v1/events')).json() as { tag: string | null }[];
  assert.deepEqual(
    web.map((e) => e.tag),
    [TREE.CLUSTER],
    "neither another team's nor a host's own",
  );
  for (const q of ['limit=0', 'limit=x', 'x=1'])
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/events?${q}`), 400, 'NOOPS_E_INPUT', q);
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/events?tag=not a tag'), 400, 'NOOPS_E_TAG_INVALID');
  await assertPeopleOnly(t, 'GET', '/api/v1/events', undefined, agents.h1!);
});

routeTest('GET /api/v1/crons', 'the crons with their last run, by tag and host; a team sees its own', async () => {
  const all = (await t.call(t.adminToken, 'GET', '/api/v1/crons')).json() as { tag: string; name: string; schedule: string }[];
  assert.deepEqual(all.map((c) => c.tag).sort(), [TREE.MAIL_CLUSTER, TREE.CLUSTER]);
  assert.deepEqual(
    ((await t.call(t.adminToken, 'GET', '/api/v1/crons?host=h1')).json() as { tag: string }[]).map((c) => c.tag),
    [TREE.CLUSTER],
  );
  assert.deepEqual(
    ((await t.call(webViewer, 'GET', '/api/v1/crons')).json() as { tag: string }[]).map((c) => c.tag),
    [TREE.CLUSTER],
  );
  assert.deepEqual((await t.call(webViewer, 'GET', `/api/v1/crons?tag=${TREE.MAIL}`)).json(), []);
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/crons?limit=1'), 400, 'NOOPS_E_INPUT');
  await assertPeopleOnly(t, 'GET', '/api/v1/crons', undefined, agents.h1!);
});
