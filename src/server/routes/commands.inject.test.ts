/** The command channel through `inject()`: people queue, read and cancel; the agent posts output. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webViewer: string;
let webDeployer: string;
let mailAdmin: string;

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  webViewer = await t.team(TREE.WEB, 'viewer');
  webDeployer = await t.team(TREE.WEB, 'deployer');
  mailAdmin = await t.team(TREE.MAIL, 'admin');
});
after(() => t.close());

const queue = (token: string, body: Record<string, unknown>) =>
  t.call(token, 'POST', '/api/v1/commands', { host: 'h1', tag: TREE.CLUSTER, ...body });

routeTest(
  'POST /api/v1/commands',
  'a viewer queues logs, a deployer a restart (202, queued); a viewer may not restart; bad input is 400',
  async () => {
    const logs = await queue(webViewer, { action: 'logs', lines: 5 });
    assert.equal(logs.statusCode, 202, logs.body);
    assert.deepEqual([logs.json().host, logs.json().action, logs.json().tag, logs.json().status], ['h1', 'logs', TREE.CLUSTER, 'queued']);
    assert.equal((await queue(webDeployer, { action: 'restart', process: 'web' })).statusCode, 202);
    assertError(await queue(webViewer, { action: 'restart' }), 403, 'NOOPS_E_FORBIDDEN', 'a viewer restarting');
    assertError(await queue(mailAdmin, { action: 'logs' }), 403, 'NOOPS_E_FORBIDDEN', 'another subtree');
    assertError(await queue(t.adminToken, { host: 'nope', action: 'logs' }), 404, 'NOOPS_E_HOST_UNKNOWN');
    for (const body of [
      { action: 'reboot' },
      { action: 'logs', process: 'Bad Name' },
      { action: 'logs', lines: -1 },
      { action: 'logs', extra: 1 },
      { action: 'logs', host: '-x' },
    ]) {
      assertError(await queue(t.adminToken, body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    }
    assertError(await queue(t.adminToken, { action: 'logs', tag: 'not a tag' }), 400, 'NOOPS_E_TAG_INVALID');
    await assertPeopleOnly(t, 'POST', '/api/v1/commands', { host: 'h1', tag: TREE.CLUSTER, action: 'logs' }, agents.h1!);
  },
);

routeTest(
  'POST /api/v1/agent/commands/:id',
  "the agent posts output and the end of its own host's command; another host's is 404",
  async () => {
    const cmd = (await queue(webViewer, { action: 'logs' })).json();
    const polled = (await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=-1&commands=1')).json();
    assert.ok(polled.commands.some((c: { id: number }) => c.id === cmd.id));
    const post = (token: string, body: unknown, id = cmd.id) => t.call(token, 'POST', `/api/v1/agent/commands/${id}`, body);
    const res = await post(agents.h1!, { output: 'line 1\n' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { cancelled: false });
    assertError(await post(agents.h2!, { output: 'x' }), 404, 'NOOPS_E_NOT_FOUND', 'another host');
    assertError(await post(agents.h1!, { output: 'x' }, 999), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await post(agents.h1!, { output: 'x' }, 'x'), 400, 'NOOPS_E_INPUT');
    assertError(await post(agents.h1!, { output: 1 }), 400, 'NOOPS_E_INPUT');
    assertError(await post(agents.h1!, { error: { code: 'X' } }), 400, 'NOOPS_E_INPUT');
    assert.equal((await post(agents.h1!, { done: true, result: { ok: 1 } })).statusCode, 200);
    const read = (await t.call(webViewer, 'GET', `/api/v1/commands/${cmd.id}`)).json();
    assert.deepEqual([read.status, read.output], ['done', 'line 1\n']);
    assertError(await t.call(null, 'POST', `/api/v1/agent/commands/${cmd.id}`, {}), 401, 'NOOPS_E_UNAUTHORIZED');
    for (const token of [t.adminToken, t.joinToken, webViewer]) assertError(await post(token, { output: 'x' }), 403, 'NOOPS_E_FORBIDDEN');
  },
);

routeTest(
  'GET /api/v1/commands/:id',
  'a viewer of its tag reads a command from an offset; bad parameters are 400; missing is 404',
  async () => {
    const cmd = (await queue(webViewer, { action: 'logs' })).json();
    const res = await t.call(webViewer, 'GET', `/api/v1/commands/${cmd.id}?offset=0&waitMs=0`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual([res.json().id, res.json().status, res.json().output], [cmd.id, 'queued', '']);
    for (const q of ['offset=-1', 'waitMs=x', 'x=1'])
      assertError(await t.call(webViewer, 'GET', `/api/v1/commands/${cmd.id}?${q}`), 400, 'NOOPS_E_INPUT', q);
    assertError(await t.call(webViewer, 'GET', '/api/v1/commands/999'), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(webViewer, 'GET', '/api/v1/commands/0'), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', `/api/v1/commands/${cmd.id}`, undefined, agents.h1!);
  },
);

routeTest(
  'GET /api/v1/commands/:id',
  "another team's command is not found, as if it did not exist (docs/security.md: a single object outside its scope is 404)",
  async () => {
    const cmd = (await queue(webViewer, { action: 'logs' })).json();
    const res = await t.call(mailAdmin, 'GET', `/api/v1/commands/${cmd.id}`);
    assert.equal(res.statusCode === 403 || res.statusCode === 404, true);
    assertError(res, 404, 'NOOPS_E_NOT_FOUND', 'another subtree');
  },
);

routeTest(
  'DELETE /api/v1/commands/:id',
  'a viewer of its tag cancels a command (its view, cancelled); another team may not; missing is 404',
  async () => {
    const cmd = (await queue(webViewer, { action: 'logs' })).json();
    assertError(
      await t.call(mailAdmin, 'DELETE', `/api/v1/commands/${cmd.id}`),
      404,
      'NOOPS_E_NOT_FOUND',
      'another subtree: not found, as if it did not exist',
    );
    const res = await t.call(webViewer, 'DELETE', `/api/v1/commands/${cmd.id}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().id, res.json().status], [cmd.id, 'cancelled']);
    assertError(await t.call(webViewer, 'DELETE', '/api/v1/commands/999'), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(webViewer, 'DELETE', '/api/v1/commands/x'), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'DELETE', `/api/v1/commands/${cmd.id}`, undefined, agents.h1!);
  },
);

routeTest(
  'DELETE /api/v1/commands/:id',
  "another team's command is not found, as if it did not exist (docs/security.md: a single object outside its scope is 404)",
  async () => {
    const cmd = (await queue(webViewer, { action: 'logs' })).json();
    assertError(await t.call(mailAdmin, 'DELETE', `/api/v1/commands/${cmd.id}`), 404, 'NOOPS_E_NOT_FOUND', 'another subtree');
  },
);
