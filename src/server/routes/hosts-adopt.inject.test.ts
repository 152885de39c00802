/** `POST /hosts/:name/adopt` through `inject()`: nothing to adopt, what it would change, and who may. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, upProcess, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
});
after(() => t.close());

const refused = {
  state: 'refused',
  server: 'another-server-id',
  generation: 7,
  reason: 'another database identity',
  refusal: 'r-1',
  since: new Date().toISOString(),
};

routeTest(
  'POST /api/v1/hosts/:name/adopt',
  'a host that does not refuse, or has not reported, has nothing to adopt (409); unknown is 404',
  async () => {
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/h1/adopt', {}), 409, 'NOOPS_E_ADOPT_NOTHING', 'no report yet');
    assert.equal((await t.report(agents.h1!, {})).statusCode, 200);
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/h1/adopt', {}), 409, 'NOOPS_E_ADOPT_NOTHING', 'no refusal');
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/nope/adopt', {}), 404, 'NOOPS_E_HOST_UNKNOWN');
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/-bad/adopt', {}), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/hosts/h1/adopt', { yes: 'sure' }), 400, 'NOOPS_E_INPUT');
  },
);

routeTest(
  'POST /api/v1/hosts/:name/adopt',
  'a refusing host is adopted: what would stop asks for yes (409), then the generation is raised',
  async () => {
    const report = await t.report(agents.h2!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')], trust: refused });
    assert.equal(report.statusCode, 200, report.body);
    const ask = await t.call(t.adminToken, 'POST', '/api/v1/hosts/h2/adopt', {});
    assertError(ask, 409, 'NOOPS_E_ADOPT_CONFIRM');
    assert.match(ask.json().message, /stop/);
    const res = await t.call(t.adminToken, 'POST', '/api/v1/hosts/h2/adopt', { yes: true });
    assert.equal(res.statusCode, 200, res.body);
    const a = res.json();
    assert.deepEqual([a.host, a.refusal, a.reason], ['h2', 'r-1', 'another database identity']);
    assert.ok(a.generation > 7 && a.stops.length === 1, res.body);
    assert.ok((await t.call(agents.h2!, 'GET', '/api/v1/agent/desired?after=-1')).json().generation >= a.generation);
  },
);

routeTest('POST /api/v1/hosts/:name/adopt', "only the server's admin adopts", async () => {
  assertError(await t.call(await t.team(TREE.ROOT, 'admin'), 'POST', '/api/v1/hosts/h2/adopt', { yes: true }), 403, 'NOOPS_E_FORBIDDEN');
  await assertPeopleOnly(t, 'POST', '/api/v1/hosts/h2/adopt', { yes: true }, agents.h1!);
});
