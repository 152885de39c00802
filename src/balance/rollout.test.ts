/**
 * The rollout controller with the balancer hooks: a host is switched only once its pool has
 * drained it (or the drain deadline, from the policy, passed). The controller runs over its
 * in-memory store (rollout/testing.ts); the balancer host's agent is faked (testing.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/index.js';
import { RolloutController } from '../rollout/controller.js';
import { CLUSTER, HOSTS, healthyReport, seeded } from '../rollout/test-fleet.js';
import { BalancerHooks } from './hooks.js';
import { Balancers } from './service.js';
import { FakeBalancerAgent, FakeRuns, MemoryBalanceStore } from './testing.js';

async function fleet() {
  const mem = seeded();
  const runs = new FakeRuns();
  const store = new MemoryBalanceStore();
  for (const h of [...HOSTS, 'lb']) store.addHost(h, `10.0.0.${h === 'lb' ? 9 : h.slice(1)}`);
  store.setPool('api', { selector: 'service=api', host: 'lb', driver: 'nginx', file: '/etc/nginx/conf.d/api.conf' });
  const balancers = new Balancers({ reports: runs, store, view: { hostsRefreshMs: 60_000, reloadMs: 60_000 } });
  await balancers.start();
  runs.report('lb', []);
  const agent = new FakeBalancerAgent(balancers, 'lb');
  const reports = new Map<string, AgentReport>();
  const controller = new RolloutController({
    ...mem.ports(),
    lastReport: (h) => reports.get(h),
    notify: () => undefined,
    hasArtifact: async () => true,
    artifactPath: () => '/nonexistent',
    workDir: '/nonexistent',
    resumeGraceMs: 0,
    hooks: new BalancerHooks(balancers),
  });
  await controller.start();
  const healthy = (hosts: string[], version: string): void => {
    for (const h of hosts) {
      reports.set(h, healthyReport(h, version));
      runs.report(h, healthyReport(h, version).processes);
      controller.onReport(h);
    }
  };
  const versionOf = (h: string) => mem.desiredOf(h).find((e) => e.tag === CLUSTER)?.version ?? null;
  const done = async (id: number) =>
    until(() => controller.current(id) === undefined && mem.deployment(id)!.status !== 'running', `#${id} ends`);
  const close = async () => {
    await controller.stop();
    await agent.stop();
    balancers.close();
  };
  // every host runs aaaaaaaaa, in the pool
  const first = await controller.startDeploy({
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: ['100%'] },
  });
  healthy(HOSTS, 'aaaaaaaaa');
  await done(first.id);
  assert.equal(mem.deployment(first.id)!.status, 'succeeded');
  return { mem, store, balancers, agent, controller, healthy, versionOf, done, close };
}

async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a host is switched only after the pool drained it, and joins again once healthy', async () => {
  const f = await fleet();
  const h1 = f.balancers.view.desiredMembers('api').find((m) => m.host === 'h1')!.id;
  f.agent.connections.set(h1, 3);
  // the first batch's hook runs in the start: it returns once h1 is drained
  const starting = f.controller.startDeploy({
    tag: CLUSTER,
    version: 'bbbbbbbbb',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: [1, '100%'] },
  });
  await until(() => f.store.reports.get('api')?.report.members.find((m) => m.id === h1)?.state === 'drain', 'h1 drains in the pool');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(f.versionOf('h1'), 'aaaaaaaaa', 'connections left: h1 is not switched yet');
  f.agent.connections.set(h1, 0);
  await f.agent.report();
  const d = await starting;
  await until(() => f.versionOf('h1') === 'bbbbbbbbb', 'h1 switched once drained');
  f.healthy(['h1'], 'bbbbbbbbb');
  await until(() => f.store.reports.get('api')?.report.members.find((m) => m.id === h1)?.state === 'ready', 'h1 ready again in the pool');
  await until(() => !f.store.drains.some((m) => m.host === 'h1'), "the after-healthy hook clears h1's mark");
  await until(() => f.versionOf('h2') === 'bbbbbbbbb', 'the next batch');
  f.healthy(['h2', 'h3', 'h4'], 'bbbbbbbbb');
  await f.done(d.id);
  assert.equal(f.mem.deployment(d.id)!.status, 'succeeded');
  await f.close();
});

test("the policy's drain_timeout bounds the wait: connections left at the deadline, the host is switched all the same", async () => {
  const f = await fleet();
  const h1 = f.balancers.view.desiredMembers('api').find((m) => m.host === 'h1')!.id;
  f.agent.connections.set(h1, 3);
  const started = Date.now();
  await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'bbbbbbbbb',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: [1, '100%'], drain_timeout: 0.3 },
  });
  await until(() => f.versionOf('h1') === 'bbbbbbbbb', 'h1 switched at the deadline');
  assert.ok(Date.now() - started >= 290, `switched after ${Date.now() - started} ms, not before the deadline`);
  await f.close();
});

test('a balancer that cannot be reached fails the host, which is not switched', async () => {
  const f = await fleet();
  f.agent.broken = 'nginx: reload refused';
  const d = await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'bbbbbbbbb',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: [1, '100%'] },
  });
  await f.done(d.id);
  const ended = f.mem.deployment(d.id)!;
  assert.notEqual(ended.status, 'succeeded');
  assert.match(String(ended.hostResults.h1), /failing: the before-stop hook failed: .*pool api \(host lb\).*nginx: reload refused/);
  assert.equal(f.versionOf('h1'), 'aaaaaaaaa', 'never switched');
  await f.close();
});
