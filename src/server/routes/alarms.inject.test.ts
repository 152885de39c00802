/**
 * The alarm routes through `inject()`: listing by status and subtree, scoped to a team's subtree;
 * ack; silences; callbacks (the server's admin only).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { NewAlarmEvent } from '../../store/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let webViewer: string;
let webDeployer: string;
const ids: number[] = [];

function event(over: Partial<NewAlarmEvent>): NewAlarmEvent {
  return {
    eventId: 'e_1_k',
    strategyId: '1',
    seriesKey: 'k',
    endpoint: 'h1',
    metric: 'common.servicerunning',
    tags: 'cop=acme,owt=web,process=web',
    node: TREE.WEB,
    selector: 'cop=acme',
    status: 'PROBLEM',
    currentStep: 1,
    leftValue: 0,
    eventTime: 1_700_000_000,
    priority: 2,
    note: 'down',
    func: 'all(#3)',
    op: '==',
    right: 0,
    storedAt: '2026-01-01T00:00:00.000Z',
    silenced: null,
    ...over,
  };
}

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  webViewer = await t.team(TREE.WEB, 'viewer');
  webDeployer = await t.team(TREE.WEB, 'deployer');
  const rows = await t.ctx.store.alarms.addEvents([
    event({ seriesKey: 'web-a' }),
    event({ seriesKey: 'mail-a', node: TREE.MAIL, tags: 'cop=acme,owt=mail' }),
    event({ seriesKey: 'web-b' }),
    event({ seriesKey: 'web-b', status: 'OK' }),
  ]);
  ids.push(...rows.map((r) => r.id));
});
after(() => t.close());

routeTest(
  'GET /api/v1/alarms',
  'problem by default (series still in trouble), ok, all; newest first; a team sees its subtree; a selector narrows',
  async () => {
    const list = async (token: string, q = '') => {
      const res = await t.call(token, 'GET', `/api/v1/alarms${q}`);
      assert.equal(res.statusCode, 200, res.body);
      return (res.json().alarms as { id: number; status: string; endpoint: string }[]).map((a) => `${a.id}:${a.status}`);
    };
    assert.deepEqual(await list(t.adminToken), [`${ids[1]}:PROBLEM`, `${ids[0]}:PROBLEM`]);
    assert.deepEqual(await list(t.adminToken, '?status=ok'), [`${ids[3]}:OK`]);
    assert.deepEqual(
      await list(t.adminToken, '?status=all&limit=3'),
      [ids[3], ids[2], ids[1]].map((id, i) => `${id}:${i === 0 ? 'OK' : 'PROBLEM'}`),
    );
    assert.deepEqual(await list(webViewer), [`${ids[0]}:PROBLEM`]);
    assert.deepEqual(await list(webViewer, `?selector=${TREE.MAIL}`), []);
    assert.deepEqual(await list(t.adminToken, '?selector=cop=acme,owt=mail'), [`${ids[1]}:PROBLEM`]);
    const one = (await t.call(t.adminToken, 'GET', '/api/v1/alarms?limit=1')).json().alarms[0];
    assert.deepEqual(Object.keys(one).slice(0, 12), [
      'id',
      'strategy',
      'endpoint',
      'metric',
      'tags',
      'status',
      'currentStep',
      'leftValue',
      'eventTime',
      'priority',
      'note',
      'acknowledged',
    ]);
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/alarms?status=bad'), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', '/api/v1/alarms', undefined, agent);
  },
);

routeTest('POST /api/v1/alarms/:id/ack', 'a deployer of its subtree acknowledges; another subtree is 404; a viewer 403', async () => {
  const res = await t.call(webDeployer, 'POST', `/api/v1/alarms/${ids[0]}/ack`, {});
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().acknowledged.by.length > 0, true);
  assertError(await t.call(webDeployer, 'POST', `/api/v1/alarms/${ids[1]}/ack`, {}), 404, 'NOOPS_E_NOT_FOUND');
  assertError(await t.call(webViewer, 'POST', `/api/v1/alarms/${ids[0]}/ack`, {}), 403, 'NOOPS_E_FORBIDDEN');
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/alarms/999999/ack', {}), 404, 'NOOPS_E_NOT_FOUND');
});

routeTest('POST /api/v1/silences', 'a deployer silences its subtree for a time; above it is 403', async () => {
  const res = await t.call(webDeployer, 'POST', '/api/v1/silences', { selector: 'cop=acme,owt=web', forSeconds: 3600, reason: 'upgrade' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().selector, TREE.WEB);
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/silences', { selector: TREE.ROOT, forSeconds: 60, reason: 'x' }),
    403,
    'NOOPS_E_FORBIDDEN',
  );
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/silences', { selector: TREE.WEB, forSeconds: 0, reason: 'x' }),
    400,
    'NOOPS_E_INPUT',
  );
});

routeTest('GET /api/v1/silences', 'the active silences a token may see', async () => {
  await t.call(t.adminToken, 'POST', '/api/v1/silences', { selector: TREE.MAIL, forSeconds: 60, reason: 'mail' });
  const mine = (await t.call(webViewer, 'GET', '/api/v1/silences')).json().silences as { selector: string }[];
  assert.equal(
    mine.every((s) => s.selector === TREE.WEB),
    true,
  );
  assert.equal(((await t.call(t.adminToken, 'GET', '/api/v1/silences')).json().silences as unknown[]).length >= 2, true);
});

routeTest('DELETE /api/v1/silences/:id', 'a deployer of its subtree removes it; another team sees none', async () => {
  const made = (await t.call(t.adminToken, 'POST', '/api/v1/silences', { selector: TREE.MAIL, forSeconds: 60, reason: 'x' })).json();
  assertError(await t.call(webDeployer, 'DELETE', `/api/v1/silences/${made.id}`), 404, 'NOOPS_E_NOT_FOUND');
  const res = await t.call(t.adminToken, 'DELETE', `/api/v1/silences/${made.id}`);
  assert.equal(res.statusCode, 200, res.body);
  assertError(await t.call(t.adminToken, 'DELETE', `/api/v1/silences/${made.id}`), 404, 'NOOPS_E_NOT_FOUND');
});

routeTest('POST /api/v1/alarm-callbacks', "the server's admin adds a callback; a team's admin may not; a bad URL is 400", async () => {
  const res = await t.call(t.adminToken, 'POST', '/api/v1/alarm-callbacks', { url: 'http://127.0.0.1:9/cb', priority: 2 });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual([res.json().url, res.json().priority], ['http://127.0.0.1:9/cb', 2]);
  assertError(
    await t.call(await t.team(TREE.WEB, 'admin'), 'POST', '/api/v1/alarm-callbacks', { url: 'http://x/' }),
    403,
    'NOOPS_E_FORBIDDEN',
  );
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/alarm-callbacks', { url: 'file:///etc/passwd' }), 400, 'NOOPS_E_INPUT');
});

routeTest('GET /api/v1/alarm-callbacks', "the server's admin lists them", async () => {
  const res = await t.call(t.adminToken, 'GET', '/api/v1/alarm-callbacks');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(Array.isArray(res.json().callbacks), true);
  assertError(await t.call(webViewer, 'GET', '/api/v1/alarm-callbacks'), 403, 'NOOPS_E_FORBIDDEN');
});

routeTest('DELETE /api/v1/alarm-callbacks/:id', "the server's admin removes one; a missing one is 404", async () => {
  const made = (await t.call(t.adminToken, 'POST', '/api/v1/alarm-callbacks', { url: 'http://127.0.0.1:9/x' })).json();
  assert.equal((await t.call(t.adminToken, 'DELETE', `/api/v1/alarm-callbacks/${made.id}`)).statusCode, 200);
  assertError(await t.call(t.adminToken, 'DELETE', `/api/v1/alarm-callbacks/${made.id}`), 404, 'NOOPS_E_NOT_FOUND');
});

routeTest('GET /api/v1/alarms', "key= lists one series' events (a chart's markers), scoped as every read; a bad key is 400", async () => {
  const web = 'h1/app.queue/cop=acme,owt=web,process=web';
  const mail = 'h1/app.queue/cop=acme,owt=mail';
  const made = await t.ctx.store.alarms.addEvents([
    event({ seriesKey: web, metric: 'app.queue', strategyId: '7' }),
    event({ seriesKey: mail, metric: 'app.queue', strategyId: '7', node: TREE.MAIL, tags: 'cop=acme,owt=mail' }),
    event({ seriesKey: web, metric: 'app.queue', strategyId: '7', status: 'OK' }),
  ]);
  const list = async (token: string, q: string) => {
    const res = await t.call(token, 'GET', `/api/v1/alarms${q}`);
    assert.equal(res.statusCode, 200, res.body);
    return (res.json().alarms as { id: number; status: string }[]).map((a) => `${a.id}:${a.status}`);
  };
  const key = (k: string) => encodeURIComponent(k);
  assert.deepEqual(await list(t.adminToken, `?status=all&key=${key(web)}`), [`${made[2]!.id}:OK`, `${made[0]!.id}:PROBLEM`]);
  assert.deepEqual(await list(t.adminToken, `?key=${key(web)}`), [], 'recovered: not in trouble');
  assert.deepEqual(await list(t.adminToken, `?key=${key(mail)}`), [`${made[1]!.id}:PROBLEM`]);
  assert.deepEqual(await list(webViewer, `?status=all&key=${key(mail)}`), [], "another team's series: nothing");
  assert.deepEqual(await list(webViewer, `?status=all&key=${key(web)}&limit=1`), [`${made[2]!.id}:OK`]);
  assert.deepEqual(await list(t.adminToken, `?status=all&key=${key('h9/nothing')}`), []);
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/alarms?key=no-slash'), 400, 'NOOPS_E_INPUT');
});
