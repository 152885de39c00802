/**
 * The balancer side of the agent protocol through `inject()`: `GET /agent/desired?balancers=INDEX`
 * (the pools of a balancer host, answered at once when they changed, else parked until they do),
 * `POST /agent/balancers` (reports: only for the caller's own pools), and a `restart` drained first.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancerShow, DesiredBalancers } from '../../api/index.js';
import { assertError, routeTest, startTestApp, TREE, upProcess, type TestApp } from '../test-app.js';

let t: TestApp;
let lb: string;
let h1: string;
let h2: string;

before(async () => {
  t = await startTestApp({ longPollMs: 5_000 });
  lb = await t.agent('lb1');
  h1 = await t.agent('h1');
  h2 = await t.agent('h2');
  const res = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/web', {
    selector: TREE.JOB,
    host: 'lb1',
    driver: 'haproxy',
    socket: '/run/haproxy/admin.sock',
    backend: 'web',
  });
  assert.equal(res.statusCode, 201, res.body);
  await t.report(lb, {});
  await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
});
after(() => t.close());

const desired = async (token: string, query: string): Promise<{ generation: number; balancers?: DesiredBalancers }> => {
  const res = await t.call(token, 'GET', `/api/v1/agent/desired?${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
};

routeTest(
  'GET /api/v1/agent/desired',
  "a balancer host's answer carries its pools; another host's only when it asks; a bad index is 400",
  async () => {
    const mine = await desired(lb, 'after=-1');
    assert.ok(mine.balancers && mine.balancers.index > 0, JSON.stringify(mine));
    assert.deepEqual(
      mine.balancers.pools.map((p) => [p.name, p.driver, p.socket, p.backend, p.members.map((m) => [m.host, m.port, m.state])]),
      [['web', 'haproxy', '/run/haproxy/admin.sock', 'web', [['h1', 3000, 'ready']]]],
    );
    assert.equal((await desired(h2, 'after=-1')).balancers, undefined, 'a host that drives no pool: no key');
    const asked = await desired(h2, 'after=-1&balancers=0');
    assert.deepEqual(asked.balancers?.pools, [], 'it asked: its (empty) pools');
    for (const bad of ['abc', '-1', '1.5', '', '99999999999999999999']) {
      assertError(await t.call(lb, 'GET', `/api/v1/agent/desired?after=-1&balancers=${bad}`), 400, 'NOOPS_E_INPUT', bad);
    }
  },
);

routeTest(
  'GET /api/v1/agent/desired',
  "a balancer host's poll answers at once when its pools differ, else parks until they change",
  async () => {
    const now = await desired(lb, 'after=-1');
    const index = now.balancers!.index;
    const atOnce = Date.now();
    assert.equal((await desired(lb, `after=${now.generation}&balancers=${index + 1}`)).balancers!.index, index, 'differs: at once');
    assert.ok(Date.now() - atOnce < 2_000);
    let answered = false;
    const parked = desired(lb, `after=${now.generation}&balancers=${index}`).then((a) => {
      answered = true;
      return a;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, false, 'nothing changed: parked');
    const changed = Date.now();
    await t.report(h2, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] }); // a new member
    const next = await parked;
    assert.ok(Date.now() - changed < 2_000, 'answered at the change, not at the end of the long poll');
    assert.notEqual(next.balancers!.index, index);
    assert.deepEqual(
      next.balancers!.pools[0]!.members.map((m) => m.host),
      ['h1', 'h2'],
    );
    assert.equal(t.ctx.balancers.view.parked, 0, 'the answered poll is parked on the pools no more');
  },
);

routeTest(
  'GET /api/v1/agent/desired',
  'a poll parked on its pools and ended otherwise (a queued command, its client gone) leaves nothing parked on the pools',
  async () => {
    const now = await desired(lb, 'after=-1&commands=1');
    const index = now.balancers!.index;
    const woken = desired(lb, `after=${now.generation}&commands=1&balancers=${index}`);
    await until(async () => t.ctx.balancers.view.parked === 1, 'the poll is parked on its pools');
    const queued = await t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'lb1', action: 'logs', tag: TREE.CLUSTER });
    assert.ok(queued.statusCode < 300, queued.body);
    assert.ok(((await woken) as { commands?: unknown[] }).commands?.length, 'answered by the command');
    assert.equal(t.ctx.balancers.view.parked, 0, 'answered by a command: off the pools too');
    // a client that leaves: its poll ends, and its pools' wait with it
    const left = new AbortController();
    const gone = fetch(`${t.url}/api/v1/agent/desired?after=${now.generation}&balancers=${index}`, {
      headers: { authorization: `Bearer ${lb}` },
      signal: left.signal,
    }).catch(() => 'left');
    await until(async () => t.ctx.balancers.view.parked === 1, 'the second poll is parked on its pools');
    left.abort();
    assert.equal(await gone, 'left');
    await until(async () => t.ctx.balancers.view.parked === 0, 'the left poll is parked on its pools no more');
  },
);

routeTest(
  'POST /api/v1/agent/balancers',
  "the balancer host's agent reports its pool (lb show has it); another host's report is 403 and stores nothing; a bad body is 400",
  async () => {
    const pools = (await desired(lb, 'after=-1')).balancers!;
    const members = pools.pools[0]!.members;
    const report = {
      name: 'web',
      index: pools.index,
      ok: true,
      at: new Date().toISOString(),
      members: members.map((m, i) => ({ id: m.id, state: m.state, connections: i })),
    };
    assertError(await t.call(h1, 'POST', '/api/v1/agent/balancers', { reports: [report] }), 403, 'NOOPS_E_FORBIDDEN');
    assert.deepEqual(await t.ctx.store.listBalancerReports(), [], 'nothing stored');
    const bad = [
      {},
      { reports: [{ ...report, extra: 1 }] },
      { reports: [{ ...report, members: [{ id: 'x y', state: 'ready', connections: 0 }] }] },
      { reports: [{ ...report, members: [{ id: 'a', state: 'up', connections: 0 }] }] },
      { reports: [{ ...report, members: [{ id: 'a', state: 'ready', connections: -1 }] }] },
      { reports: [{ ...report, index: 'one' }] },
      { reports: [{ ...report, at: 'yesterday' }] },
      { reports: [{ ...report, name: '../etc' }] },
    ];
    for (const body of bad)
      assertError(await t.call(lb, 'POST', '/api/v1/agent/balancers', body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/agent/balancers', { reports: [report] }), 403, 'NOOPS_E_FORBIDDEN', 'a person');
    const res = await t.call(lb, 'POST', '/api/v1/agent/balancers', { reports: [report] });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { stored: 1 });
    assert.equal((await t.ctx.store.listBalancerReports()).length, 1);
    const shown = (await t.call(t.adminToken, 'GET', '/api/v1/balancers/web')).json() as BalancerShow;
    assert.deepEqual(
      shown.members.map((m) => [m.host, m.state, m.applied]),
      [
        ['h1', 'ready', { state: 'ready', connections: 0 }],
        ['h2', 'ready', { state: 'ready', connections: 1 }],
      ],
    );
    assert.equal(shown.report?.index, pools.index);
  },
);

/** Waits (against a deadline) until `ok()` holds. */
async function until(ok: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The balancer host's agent, by hand: reads its pools and reports them as told (h1 `connections` open), or failed. */
async function lbReports(connections: number, ok = true): Promise<DesiredBalancers> {
  const pools = (await desired(lb, 'after=-1')).balancers!;
  const report = {
    name: 'web',
    index: pools.index,
    ok,
    ...(ok ? {} : { error: 'connect ENOENT /run/haproxy/admin.sock' }),
    at: new Date().toISOString(),
    members: pools.pools[0]!.members.map((m) => ({ id: m.id, state: m.state, connections: m.host === 'h1' ? connections : 0 })),
  };
  const res = await t.call(lb, 'POST', '/api/v1/agent/balancers', { reports: [report] });
  assert.equal(res.statusCode, 200, res.body);
  return pools;
}

const h1State = async (): Promise<string | undefined> =>
  (await desired(lb, 'after=-1')).balancers!.pools[0]!.members.find((m) => m.host === 'h1')?.state;

routeTest(
  'POST /api/v1/commands',
  'a restart drains the host from its pools first (queued once drained), and the mark is cleared when the command ends',
  async () => {
    let queued = false;
    const restart = t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'h1', action: 'restart', tag: TREE.CLUSTER }).then((r) => {
      queued = true;
      return r;
    });
    await until(async () => (await h1State()) === 'drain', 'h1 drains in the pool');
    await lbReports(2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(queued, false, 'connections left: not queued yet');
    await lbReports(0);
    const res = await restart;
    assert.equal(res.statusCode, 202, res.body);
    const id = (res.json() as { id: number }).id;
    assert.equal((await t.ctx.store.listDrains(new Date().toISOString())).length, 1, 'drained while it restarts');
    const taken = (await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1&commands=1')).json() as { commands: { id: number }[] };
    assert.deepEqual(
      taken.commands.map((c) => c.id),
      [id],
    );
    assert.equal((await t.call(h1, 'POST', `/api/v1/agent/commands/${id}`, { done: true })).statusCode, 200);
    await until(async () => (await t.ctx.store.listDrains(new Date().toISOString())).length === 0, 'the mark cleared');
    assert.equal(await h1State(), 'ready');
  },
);

routeTest(
  'POST /api/v1/commands',
  'a restarted process back new and healthy takes traffic at once, before its command ends; one still starting does not',
  async () => {
    const restart = t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'h1', action: 'restart', tag: TREE.CLUSTER });
    await until(async () => (await h1State()) === 'drain', 'h1 drains in the pool');
    await lbReports(0);
    const res = await restart;
    assert.equal(res.statusCode, 202, res.body);
    const marks = async (): Promise<number> => (await t.ctx.store.listDrains(new Date().toISOString())).length;
    // the same pid (not restarted yet), then a new one still starting: the mark stays
    await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
    await t.report(h1, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), pid: 101, health: 'starting' }] });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await marks(), 1, 'not healthy yet: still drained');
    // new and healthy: cleared, though the agent has not said the command ended
    await t.report(h1, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), pid: 101 }] });
    await until(async () => (await marks()) === 0, 'the mark cleared at the healthy report');
    assert.equal(await h1State(), 'ready');
    // the command ends later, as the agent says so: nothing left to clear, nothing left queued for the tests after
    const id = (res.json() as { id: number }).id;
    await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1&commands=1');
    assert.equal((await t.call(h1, 'POST', `/api/v1/agent/commands/${id}`, { done: true })).statusCode, 200);
    await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
  },
);

routeTest(
  'POST /api/v1/commands',
  "a restart's new process joins its pools at the report that shows it healthy, before the restart's hook clears the mark",
  async () => {
    const restart = t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'h1', action: 'restart', tag: TREE.CLUSTER });
    await until(async () => (await h1State()) === 'drain', 'h1 drains in the pool');
    await lbReports(0);
    const res = await restart;
    assert.equal(res.statusCode, 202, res.body);
    // the moment the pool first holds h1 ready: was the restart's mark still there?
    const view = t.ctx.balancers.view;
    let marksWhenReady: number | undefined;
    const onChange = (): void => {
      if (marksWhenReady !== undefined || view.desiredMembers('web').find((m) => m.host === 'h1')?.state !== 'ready') return;
      marksWhenReady = view.drainMarks().filter((d) => d.host === 'h1').length;
    };
    view.on('change', onChange);
    try {
      await t.report(h1, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), pid: 103 }] });
      await until(async () => (await t.ctx.store.listDrains(new Date().toISOString())).length === 0, 'the mark cleared');
    } finally {
      view.off('change', onChange);
    }
    assert.equal(marksWhenReady, 1, 'ready at the healthy report itself, not once the hook cleared the mark (it did so after)');
    const id = (res.json() as { id: number }).id;
    await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1&commands=1');
    assert.equal((await t.call(h1, 'POST', `/api/v1/agent/commands/${id}`, { done: true })).statusCode, 200);
    await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
  },
);

routeTest(
  'POST /api/v1/commands',
  'a restart done while its new process is not healthy yet keeps the mark: the pool changes once, drain to ready, at the healthy report',
  async () => {
    const restart = t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'h1', action: 'restart', tag: TREE.CLUSTER });
    await until(async () => (await h1State()) === 'drain', 'h1 drains in the pool');
    await lbReports(0);
    const res = await restart;
    assert.equal(res.statusCode, 202, res.body);
    const id = (res.json() as { id: number }).id;
    // the new process runs, its first health check failed (the app not listening yet)
    await t.report(h1, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), pid: 102, health: 'unhealthy', healthySince: null }] });
    const now = await desired(lb, 'after=-1');
    assert.equal(now.balancers!.pools[0]!.members.find((m) => m.host === 'h1')?.state, 'drain');
    // the balancer host's agent parks its poll: the next change of its pools answers it
    const parked = desired(lb, `after=${now.generation}&balancers=${now.balancers!.index}`);
    // the agent says the command ended (its start grace passed), then reports the process healthy
    await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1&commands=1');
    assert.equal((await t.call(h1, 'POST', `/api/v1/agent/commands/${id}`, { done: true })).statusCode, 200);
    // the server takes the command's end: it cleared the mark here before (within its 250 ms pause after the take), now it waits
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await t.ctx.store.listDrains(new Date().toISOString())).length, 1, 'done, not healthy yet: still drained');
    await t.report(h1, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), pid: 102 }] });
    const next = await parked;
    assert.equal(
      next.balancers!.pools[0]!.members.find((m) => m.host === 'h1')?.state,
      'ready',
      'the first change after the drain is the join (not maint at the command end, then ready)',
    );
    await until(async () => (await t.ctx.store.listDrains(new Date().toISOString())).length === 0, 'the mark cleared');
    await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
  },
);

routeTest(
  'POST /api/v1/commands',
  "a restart of one process (`process: 'web'`) drains that process only: the tag's other process keeps its traffic",
  async () => {
    const admin = { ...upProcess(TREE.CLUSTER, 'abcdef001', 'admin'), pid: 200, port: 3001 };
    await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001'), admin] });
    const states = async (): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await desired(lb, 'after=-1')).balancers!.pools[0]!.members.filter((m) => m.host === 'h1').map((m) => [m.process, m.state]),
      );
    await until(async () => Object.keys(await states()).length === 2, 'both processes of h1 in the pool');
    const restart = t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'h1', action: 'restart', tag: TREE.CLUSTER, process: 'web' });
    await until(async () => (await states()).web === 'drain', 'web drains');
    assert.deepEqual(await states(), { web: 'drain', admin: 'ready' });
    await lbReports(0);
    const res = await restart;
    assert.equal(res.statusCode, 202, res.body);
    const marks = await t.ctx.store.listDrains(new Date().toISOString());
    assert.deepEqual(
      marks.map((d) => [d.process, d.pids]),
      [['web', [100]]],
      "the mark names the process and only its pids (admin's 200 is not among them)",
    );
    // web back, new and healthy: the mark is cleared, and nothing else was ever drained
    await t.report(h1, { processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), pid: 104 }, admin] });
    await until(async () => (await t.ctx.store.listDrains(new Date().toISOString())).length === 0, 'the mark cleared');
    assert.deepEqual(await states(), { web: 'ready', admin: 'ready' });
    const id = (res.json() as { id: number }).id;
    await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1&commands=1');
    assert.equal((await t.call(h1, 'POST', `/api/v1/agent/commands/${id}`, { done: true })).statusCode, 200);
    await t.report(h1, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
    await until(async () => Object.keys(await states()).length === 1, 'admin gone again');
  },
);

routeTest(
  'POST /api/v1/commands',
  'a restart whose balancer cannot apply the drain is refused (503) and not queued; the host takes traffic again',
  async () => {
    const restart = t.call(t.adminToken, 'POST', '/api/v1/commands', { host: 'h1', action: 'restart', tag: TREE.CLUSTER });
    await until(async () => (await h1State()) === 'drain', 'h1 drains in the pool');
    await lbReports(0, false);
    assertError(await restart, 503, 'NOOPS_E_DRAIN_FAILED');
    assert.equal(await h1State(), 'ready');
    const taken = (await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1&commands=1')).json() as { commands?: unknown[] };
    assert.deepEqual(taken.commands ?? [], [], 'nothing queued');
  },
);
