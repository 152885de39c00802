/**
 * Drain before a lower count, through the scheduler loop on a real server's store (SQLite), its
 * balancers and the agent protocol, its ticks driven by the test: a pool holds the 3 replicas of a
 * host; a scale to 1 first shows the 2 removed replicas `drain` in `GET /balancers/NAME` while the
 * host's entry still runs 3, and the entry says 1 only once their connections are gone; the mark is
 * cleared when the host reports them stopped. A balancer that keeps connections past the drain
 * deadline (the cluster's `drain_timeout`) does not hold the count back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancerShow } from '../api/index.js';
import { startTestApp, TREE, type TestApp, until, upProcess } from './test-app.js';
import { ScheduleLoop } from './schedule-loop.js';
import { schedulePlanner } from './schedule-planner.js';
import { replicaDrains } from './schedule-drains.js';
import { scheduleState, scheduleWriter } from './schedule-store-ports.js';

const V = 'abcdef003';
const GiB = 1024 ** 3;
const SPEC = { count: 3, cpu: 1, memory: 256 * 1024 ** 2, constraints: [], distinctHosts: false, spread: null };

let t: TestApp;
let h1: string;
let lb: string;
let loop: ScheduleLoop;
const logged: string[] = [];

const scale = (count: number) => t.ctx.store.schedule.setClusterSchedule(TREE.CLUSTER, { ...SPEC, count });
/** h1's entry of the cluster: its count (1 when the entry says none). */
const count = async (): Promise<number> => (await t.ctx.store.listDesired(TREE.CLUSTER)).find((d) => d.host === 'h1')?.replicas ?? 1;
/** h1 heard, reporting `web` and its replicas up to `n`. */
const heard = async (n: number): Promise<void> => {
  const { generation } = (await t.call(h1, 'GET', '/api/v1/agent/desired?after=-1')).json() as { generation: number };
  const names = Array.from({ length: n }, (_, k) => (k === 0 ? 'web' : `web@${k + 1}`));
  await t.report(h1, { processes: names.map((p) => upProcess(TREE.CLUSTER, V, p)), generation });
};
/** The pool's members as `noops lb show` has them: [process, state]. */
const shown = async (): Promise<[string, string][]> => {
  const res = await t.call(t.adminToken, 'GET', '/api/v1/balancers/web');
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as BalancerShow).members.map((m): [string, string] => [m.process, m.state]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
};
/** lb1's agent: applies its pools as told and reports them, each member with `open` connections (by process). */
const lbReports = async (open: Record<string, number>): Promise<void> => {
  const { balancers } = (await t.call(lb, 'GET', '/api/v1/agent/desired?after=-1&balancers=0')).json() as {
    balancers: { index: number; pools: { name: string; members: { id: string; state: string; process: string }[] }[] };
  };
  const at = new Date().toISOString();
  const reports = balancers.pools.map((p) => ({
    name: p.name,
    index: balancers.index,
    ok: true,
    at,
    members: p.members.map((m) => ({ id: m.id, state: m.state, connections: open[m.process] ?? 0 })),
  }));
  const res = await t.call(lb, 'POST', '/api/v1/agent/balancers', { reports });
  assert.equal(res.statusCode, 200, res.body);
};

describe('a lower count drains the replicas it removes first', () => {
  before(async () => {
    t = await startTestApp({ longPollMs: 50 });
    await t.ctx.schedule!.loop.follow(); // this test ticks its own loop
    h1 = await t.agent('h1');
    lb = await t.agent('lb1');
    await t.ctx.store.schedule.setHostCapacity('h1', { cpu: 3, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
    await t.ctx.store.updateHost('h1', { scope: TREE.ROOT });
    await t.release(TREE.JOB, V);
    await t.cluster(TREE.CLUSTER, ['h1'], { drain_timeout: '2s' });
    await t.deploy(TREE.CLUSTER, V, { h1 });
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/web', {
      selector: TREE.JOB,
      host: 'lb1',
      driver: 'haproxy',
      socket: '/run/haproxy/admin.sock',
      backend: 'web',
    });
    assert.equal(res.statusCode, 201, res.body);
    await t.report(lb, {});
    loop = new ScheduleLoop({
      state: scheduleState(t.ctx),
      write: scheduleWriter(t.ctx, (l) => logged.push(l)),
      planner: schedulePlanner(),
      drains: replicaDrains(t.ctx),
      log: (l) => logged.push(l),
    });
    await scale(3);
    await heard(1);
    await loop.tick();
    assert.equal(await count(), 3, `the rise is written at once (${logged.join('; ')})`);
    await heard(3);
    await until('the pool holds the 3 replicas', async () => (await shown()).length === 3);
    await lbReports({});
  });
  after(() => t.close());

  it('3 to 1: the 2 removed replicas drain while the entry says 3; it says 1 once their connections are gone', async () => {
    await lbReports({ 'web@2': 1, 'web@3': 2 });
    await scale(1);
    await loop.tick();
    assert.deepEqual(await shown(), [
      ['web', 'ready'],
      ['web@2', 'drain'],
      ['web@3', 'drain'],
    ]);
    assert.equal(await count(), 3, 'not stopped while they have connections');
    await lbReports({ 'web@2': 1, 'web@3': 2 }); // the balancer applied the drain; connections left
    await loop.tick();
    assert.equal(await count(), 3, 'still draining');
    await lbReports({}); // their connections are gone
    await until('the lower count is written', async () => {
      await loop.tick();
      return (await count()) === 1;
    });
    assert.deepEqual((await t.ctx.store.listDrains(new Date().toISOString())).length, 1, 'the mark stays until they stop');
    await heard(1); // the agent stopped them
    await loop.tick();
    assert.deepEqual(await t.ctx.store.listDrains(new Date().toISOString()), [], 'the mark is cleared once no pool holds them');
    assert.deepEqual(await shown(), [['web', 'ready']]);
  });

  it('connections left at the drain deadline do not hold the lower count back', async () => {
    await scale(2);
    await heard(1);
    await loop.tick();
    assert.equal(await count(), 2, 'a rise: at once');
    await heard(2);
    await until('the pool holds the 2 replicas', async () => (await shown()).length === 2);
    await lbReports({});
    await scale(1);
    await loop.tick();
    assert.deepEqual(await shown(), [
      ['web', 'ready'],
      ['web@2', 'drain'],
    ]);
    await lbReports({ 'web@2': 5 }); // applied, and the connections never go
    await until(
      'the lower count is written at the deadline (2 s)',
      async () => {
        await loop.tick();
        return (await count()) === 1;
      },
      15_000,
      100,
    );
  });
});
