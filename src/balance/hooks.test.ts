/**
 * The rollout's hooks against the balancer view in memory and a faked balancer agent that
 * follows its desired pools and reports the connections the test sets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalChangeBus } from '../bus/index.js';
import type { HostHookContext } from '../rollout/index.js';
import { BalancerHooks } from './hooks.js';
import { Balancers } from './service.js';
import { FakeBalancerAgent, FakeRuns, MemoryBalanceStore, upProcess } from './testing.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
const OLD = 'aaaaaaaaa';
const NEW = 'bbbbbbbbb';

async function setup() {
  const runs = new FakeRuns();
  const store = new MemoryBalanceStore();
  store.addHost('h1', '10.0.0.1');
  store.addHost('h2', '10.0.0.2');
  store.addHost('lb', '10.0.0.9');
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web' });
  const balancers = new Balancers({ reports: runs, store, view: { hostsRefreshMs: 60_000, reloadMs: 60_000 } });
  await balancers.start();
  runs.report('lb', []);
  runs.report('h1', [upProcess(SHOP, OLD)]);
  runs.report('h2', [upProcess(SHOP, OLD)]);
  const agent = new FakeBalancerAgent(balancers, 'lb');
  const hooks = new BalancerHooks(balancers);
  const h1 = balancers.view.desiredMembers('web')[0]!.id;
  const close = async () => {
    await agent.stop();
    balancers.close();
  };
  return { runs, store, balancers, agent, hooks, h1, close };
}

const ctx = (over: Partial<HostHookContext> = {}): HostHookContext => ({
  deployment: 7,
  tag: SHOP,
  host: 'h1',
  from: OLD,
  to: NEW,
  kind: 'deploy',
  drainTimeoutMs: 5_000,
  ...over,
});

/** Waits (against a deadline) until `ok()` holds. */
async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('beforeStop drains the host in the pool and returns only once its connections are gone', async () => {
  const s = await setup();
  s.agent.connections.set(s.h1, 2);
  let returned = false;
  const stop = s.hooks.beforeStop(ctx()).then(() => (returned = true));
  await until(
    () => s.store.reports.get('web')?.report.members.find((m) => m.id === s.h1)?.state === 'drain',
    'the agent reports the drain',
  );
  assert.equal(s.store.drains.length, 1, 'the mark is stored for every server');
  assert.deepEqual(
    s.balancers.view.desiredMembers('web').map((m) => m.state),
    ['drain', 'ready'],
    'only h1 drains',
  );
  s.agent.connections.set(s.h1, 1);
  await s.agent.report();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(returned, false, 'one connection left: still waiting');
  s.agent.connections.set(s.h1, 0);
  await s.agent.report();
  await stop;
  assert.equal(returned, true);
  await s.close();
});

test("the drain deadline passing with connections left goes on (the deadline is the user's choice)", async () => {
  const s = await setup();
  s.agent.connections.set(s.h1, 5);
  const started = Date.now();
  await s.hooks.beforeStop(ctx({ drainTimeoutMs: 200 }));
  assert.ok(Date.now() - started >= 190, 'waited for the deadline');
  await s.close();
});

test('a driver that cannot count connections (null) is drained once the drain is applied', async () => {
  const s = await setup();
  s.agent.connections.set(s.h1, null);
  const started = Date.now();
  await s.hooks.beforeStop(ctx());
  assert.ok(Date.now() - started < 2_000);
  await s.close();
});

test('a balancer that cannot be reached fails the host, and the host takes traffic again', async () => {
  const silent = await setup();
  silent.agent.silent = true;
  await assert.rejects(silent.hooks.beforeStop(ctx({ drainTimeoutMs: 150 })), {
    code: 'NOOPS_E_DRAIN_FAILED',
    message: /pool web \(host lb\): its agent did not report the drain within 150 ms/,
  });
  assert.equal(silent.store.drains.length, 0, 'the mark is cleared: the host was not stopped');
  assert.equal(silent.balancers.view.desiredMembers('web')[0]!.state, 'ready');
  await silent.close();

  const broken = await setup();
  broken.agent.broken = 'connect ENOENT /run/haproxy.sock';
  const started = Date.now();
  await assert.rejects(broken.hooks.beforeStop(ctx({ drainTimeoutMs: 10_000 })), {
    code: 'NOOPS_E_DRAIN_FAILED',
    message: /could not apply the drain: connect ENOENT/,
  });
  assert.ok(Date.now() - started < 5_000, 'at once, not at the deadline');
  await broken.close();

  const down = await setup();
  down.runs.down.add('lb');
  await assert.rejects(down.hooks.beforeStop(ctx({ drainTimeoutMs: 10_000 })), {
    code: 'NOOPS_E_DRAIN_FAILED',
    message: /host lb is down/,
  });
  await down.close();
});

test('a host no pool holds, or a first deploy (nothing runs), writes no mark and waits for nothing', async () => {
  const s = await setup();
  s.agent.silent = true;
  await s.hooks.beforeStop(ctx({ from: null }));
  await s.hooks.beforeStop(ctx({ tag: 'cop.acme_owt.mail_pdl.post_service.smtp_job.relay_cluster.prod' }));
  await s.hooks.beforeStop(ctx({ from: 'ccccccccc' }));
  assert.equal(s.store.drains.length, 0);
  await s.close();
});

test('afterHealthy clears the marks and returns once the pool reports the new instance ready', async () => {
  const s = await setup();
  await s.hooks.beforeStop(ctx());
  s.runs.report('h1', [upProcess(SHOP, NEW, { health: 'starting' })]);
  await until(() => s.store.reports.get('web')?.report.members.find((m) => m.id === s.h1)?.state === 'drain', 'still drained');
  s.runs.report('h1', [upProcess(SHOP, NEW)]);
  s.agent.silent = true; // the balancer is slow to apply
  let returned = false;
  const healthy = s.hooks.afterHealthy(ctx()).then(() => (returned = true));
  await until(() => s.store.drains.length === 0, 'the mark cleared');
  assert.equal(s.balancers.view.desiredMembers('web')[0]!.state, 'ready');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(returned, false, 'not yet reported ready');
  s.agent.silent = false;
  await s.agent.report();
  await healthy;
  assert.equal(returned, true);
  // a balancer that never applies it: the hook throws (logged in the deployment) at the deadline
  s.agent.silent = true;
  s.runs.report('h2', [upProcess(SHOP, NEW)]);
  await assert.rejects(s.hooks.afterHealthy(ctx({ host: 'h2', drainTimeoutMs: 100 })), {
    code: 'NOOPS_E_DRAIN_FAILED',
    message: /did not report it ready/,
  });
  await s.close();
});

test("two servers: the rollout's leader drains, the balancer's agent reports to the other server, the bus brings it", async () => {
  const runs = new FakeRuns();
  const store = new MemoryBalanceStore();
  store.addHost('h1', '10.0.0.1');
  store.addHost('lb', '10.0.0.9');
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web' });
  const bus = new LocalChangeBus(); // delivers to both servers' subscribers, as PostgreSQL's does
  const opts = { hostsRefreshMs: 60_000, reloadMs: 60_000 };
  const leader = new Balancers({ reports: runs, store, bus, view: opts });
  const other = new Balancers({ reports: runs, store, bus, view: opts });
  await Promise.all([leader.start(), other.start()]);
  runs.report('lb', []);
  runs.report('h1', [upProcess(SHOP, OLD)]);
  const agent = new FakeBalancerAgent(other, 'lb'); // its poll and its reports go to the other server
  const id = leader.view.desiredMembers('web')[0]!.id;
  agent.connections.set(id, 1);
  let returned = false;
  const stop = new BalancerHooks(leader).beforeStop(ctx()).then(() => (returned = true));
  await until(() => other.view.desiredMembers('web')[0]?.state === 'drain', 'the other server hears the mark');
  await until(() => leader.view.report('web')?.report.members[0]?.state === 'drain', 'the leader hears the report');
  assert.equal(returned, false, 'a connection left');
  agent.connections.set(id, 0);
  await agent.report();
  await stop;
  assert.equal(leader.view.index('lb'), other.view.index('lb'), 'the same index on both servers');
  await agent.stop();
  leader.close();
  other.close();
});
