/** `GET /naming/:selector` and `GET /deps` through `inject()`: healthy endpoints, scoping, blocking queries. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, routeTest, startTestApp, TREE, upProcess, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let webViewer: string;
let mailViewer: string;

const enc = encodeURIComponent;

before(async () => {
  t = await startTestApp();
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  webViewer = await t.team(TREE.WEB, 'viewer');
  mailViewer = await t.team(TREE.MAIL, 'viewer');
  await t.report(agents.h1!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001'), upProcess(TREE.MAIL_CLUSTER, 'bcdef0001', 'smtp')] });
  await t.report(agents.h2!, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), health: 'unhealthy' }] });
});
after(() => t.close());

routeTest('GET /api/v1/naming/:selector', 'the healthy endpoints under a selector or a tag, with an index', async () => {
  const res = await t.call(t.adminToken, 'GET', `/api/v1/naming/${enc('cop=acme,pdl=shop')}`);
  assert.equal(res.statusCode, 200, res.body);
  const answer = res.json();
  assert.deepEqual(answer.endpoints, [
    { host: 'h1', address: '127.0.0.1', port: 3000, process: 'web', tag: TREE.CLUSTER, version: 'abcdef001' },
  ]);
  assert.equal(typeof answer.index, 'number');
  assert.equal(res.headers['x-noops-index'], String(answer.index));
  const byTag = (await t.call(t.adminToken, 'GET', `/api/v1/naming/${TREE.JOB}`)).json();
  assert.deepEqual(byTag, answer, 'a tag selects what its pairs select');
  assert.equal((await t.call(t.adminToken, 'GET', `/api/v1/naming/${TREE.ROOT}`)).json().endpoints.length, 2, 'higher up: all beneath');
});

routeTest('GET /api/v1/naming/:selector', "scoped: a team sees its own subtree's endpoints only", async () => {
  const web = (await t.call(webViewer, 'GET', `/api/v1/naming/${TREE.ROOT}`)).json();
  assert.deepEqual(
    web.endpoints.map((e: { tag: string }) => e.tag),
    [TREE.CLUSTER],
  );
  const mail = (await t.call(mailViewer, 'GET', `/api/v1/naming/${TREE.JOB}`)).json();
  assert.deepEqual(mail.endpoints, []);
  assertError(await t.call(null, 'GET', `/api/v1/naming/${TREE.ROOT}`), 401, 'NOOPS_E_UNAUTHORIZED');
  assertError(await t.call(agents.h1!, 'GET', `/api/v1/naming/${TREE.ROOT}`), 403, 'NOOPS_E_FORBIDDEN');
});

routeTest('GET /api/v1/naming/:selector', 'bad selectors and parameters are 400', async () => {
  assertError(await t.call(t.adminToken, 'GET', `/api/v1/naming/${enc('cop=ACME')}`), 400, 'NOOPS_E_SELECTOR_INVALID');
  assertError(await t.call(t.adminToken, 'GET', `/api/v1/naming/${TREE.ROOT}?wait=soon&index=1`), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(t.adminToken, 'GET', `/api/v1/naming/${TREE.ROOT}?index=-1`), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(t.adminToken, 'GET', `/api/v1/naming/${TREE.ROOT}?tag=x`), 400, 'NOOPS_E_INPUT');
});

routeTest('GET /api/v1/naming/:selector', 'a blocking query returns at the change of its answer', async () => {
  const url = `/api/v1/naming/${TREE.JOB}`;
  const first = (await t.call(webViewer, 'GET', url)).json();
  const started = Date.now();
  const waiting = t.call(webViewer, 'GET', `${url}?index=${first.index}&wait=30s`);
  // a change of another job does not answer it; h2 becoming healthy does
  await t.report(agents.h1!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
  await t.report(agents.h2!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
  const res = await waiting;
  assert.equal(res.statusCode, 200, res.body);
  const next = res.json();
  assert.ok(Date.now() - started < 5000, 'answered at the change, long before the wait');
  assert.notEqual(next.index, first.index);
  assert.deepEqual(
    next.endpoints.map((e: { host: string }) => e.host),
    ['h1', 'h2'],
  );
});

routeTest('GET /api/v1/naming/:selector', 'a blocking query with no change answers at its wait with the same index', async () => {
  const url = `/api/v1/naming/${TREE.JOB}`;
  const first = (await t.call(webViewer, 'GET', url)).json();
  const started = Date.now();
  const res = await t.call(webViewer, 'GET', `${url}?index=${first.index}&wait=300ms`);
  assert.ok(Date.now() - started >= 250, 'it waited');
  assert.equal(res.json().index, first.index);
  const other = await t.call(webViewer, 'GET', `${url}?index=${first.index + 1}&wait=30s`);
  assert.equal(other.json().index, first.index, 'an index that differs is answered at once');
});

routeTest(
  'GET /api/v1/naming/:selector',
  'watchers of one selector under different scopes are each woken with their own scoped answer',
  async () => {
    const url = `/api/v1/naming/${TREE.ROOT}`;
    const callers = [t.adminToken, webViewer, mailViewer];
    const firsts = await Promise.all(callers.map(async (token) => (await t.call(token, 'GET', url)).json()));
    assert.deepEqual(
      firsts.map((a) => a.endpoints.length),
      [2, 2, 0],
    );
    // two of each: the second shares the first's answer (one per scope), never another scope's
    const waiting = callers.flatMap((token, i) =>
      [0, 1].map(() => t.call(token, 'GET', `${url}?index=${firsts[i].index}&wait=${token === mailViewer ? '300ms' : '30s'}`)),
    );
    await t.report(agents.h2!, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), health: 'unhealthy' }] });
    const answers = (await Promise.all(waiting)).map((res) => {
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['x-noops-index'], String(res.json().index));
      return res.json();
    });
    assert.deepEqual(
      answers.map((a) => a.endpoints.map((e: { host: string }) => e.host)),
      [['h1'], ['h1'], ['h1'], ['h1'], [], []],
    );
    assert.notEqual(answers[0].index, firsts[0].index);
    assert.equal(answers[4].index, firsts[2].index, 'the mail team saw no change: answered at its wait, same index');
    await t.report(agents.h2!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
  },
);

routeTest('GET /api/v1/deps', 'lookups are recorded: who asked for what, observed', async () => {
  const res = await t.call(t.adminToken, 'GET', `/api/v1/deps?selector=${enc(TREE.JOB)}`);
  assert.equal(res.statusCode, 200, res.body);
  const deps = res.json();
  assert.equal(deps.selector, 'cop=acme,owt=web,pdl=shop,service=api,job=web');
  // the calls above came from 127.0.0.1, h1's address, where the web job runs: it looked itself up
  const self = deps.uses.find((e: { to: string }) => e.to === deps.selector);
  assert.deepEqual(self && [self.from, self.declared, self.observed, typeof self.lastSeen], [TREE.JOB, false, true, 'string']);
  assert.ok(deps.usedBy.some((e: { from: string }) => e.from === TREE.JOB));
  const mail = (await t.call(mailViewer, 'GET', `/api/v1/deps?selector=${enc(TREE.JOB)}`)).json();
  assert.deepEqual(mail.uses, [], "a team sees only its own services' uses");
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/deps'), 400, 'NOOPS_E_INPUT');
});
