/**
 * The scheduler loop on a real server's store (SQLite) and rollout, its ticks driven by the test
 * (the server's own loop is stopped): a scale up deploys the cluster's version to the new host only,
 * an unheard host's instance moves within the budget and its copy is named in its `stops` until
 * it reports it gone, and a drained host is vacated after its replacement is healthy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, TREE, type TestApp, until, upProcess } from './test-app.js';
import { MIGRATE_WINDOW_MS, ScheduleLoop } from './schedule-loop.js';
import { schedulePlanner } from './schedule-planner.js';
import type { LoopHost } from './schedule-ports.js';
import { scheduleState, scheduleWriter } from './schedule-store-ports.js';

const V = 'abcdef001';
const GiB = 1024 ** 3;
const SPEC = { count: 2, cpu: 1, memory: 256 * 1024 ** 2, constraints: [], distinctHosts: false, spread: null };

let t: TestApp;
const agents: Record<string, string> = {};
let loop: ScheduleLoop;
const logged: string[] = [];

const report = async (names: string[], running: string[]): Promise<void> => {
  for (const h of names) {
    const { generation } = (await t.call(agents[h]!, 'GET', '/api/v1/agent/desired?after=-1')).json() as { generation: number };
    await t.report(agents[h]!, { processes: running.includes(h) ? [upProcess(TREE.CLUSTER, V)] : [], generation });
  }
};
const hostsOf = async (): Promise<string[]> => [...((await t.ctx.store.getCluster(TREE.CLUSTER))?.hosts ?? [])].sort();
const desiredHosts = async (): Promise<string[]> => (await t.ctx.store.listDesired(TREE.CLUSTER)).map((d) => d.host).sort();
const running = async () => (await t.ctx.store.listDeployments({ tag: TREE.CLUSTER, status: 'running', limit: 1 }))[0];

describe('the scheduler loop', () => {
  before(async () => {
    t = await startTestApp({ longPollMs: 50 });
    await t.ctx.schedule!.loop.follow(); // this test ticks its own loop
    for (const h of ['h1', 'h2', 'h3']) {
      agents[h] = await t.agent(h);
      // 1.5 cores: one instance of 1 core per host (replicas on one host: schedule-replicas.test.ts)
      await t.ctx.store.schedule.setHostCapacity(h, { cpu: 1.5, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
      await t.ctx.store.updateHost(h, { scope: TREE.ROOT }); // the scheduler uses only hosts assigned to a node above the cluster
    }
    await t.release(TREE.JOB, V);
    await t.cluster(TREE.CLUSTER, ['h1', 'h2']);
    await t.deploy(TREE.CLUSTER, V, { h1: agents.h1!, h2: agents.h2! });
    await t.ctx.store.schedule.setClusterSchedule(TREE.CLUSTER, SPEC);
    loop = new ScheduleLoop({
      state: scheduleState(t.ctx),
      write: scheduleWriter(t.ctx, (l) => logged.push(l)),
      planner: schedulePlanner(),
      downAfterMs: 1500,
      log: (l) => logged.push(l),
    });
  });
  after(() => t.close());

  it('changes nothing when the placements hold', async () => {
    await report(['h1', 'h2', 'h3'], ['h1', 'h2']);
    await loop.tick();
    assert.deepEqual(await hostsOf(), ['h1', 'h2']);
    assert.equal(await running(), undefined);
    assert.deepEqual(await t.ctx.store.listPlacements({ tag: TREE.CLUSTER }), []);
  });

  it('a scale up places the new instance and deploys the running version to that host only', async () => {
    await t.ctx.store.schedule.setClusterSchedule(TREE.CLUSTER, { ...SPEC, count: 3 });
    await report(['h1', 'h2', 'h3'], ['h1', 'h2']);
    await loop.tick();
    assert.deepEqual(await hostsOf(), ['h1', 'h2', 'h3']);
    const d = await running();
    assert.ok(d, `a deployment runs (${logged.join('; ')})`);
    assert.deepEqual(d.hosts, ['h3']);
    assert.equal(d.version, V);
    assert.equal(d.initiator, 'scheduler');
    const ended = await t.drive(d.id, { h3: agents.h3! }, [upProcess(TREE.CLUSTER, V)]);
    assert.equal(ended.status, 'succeeded');
    assert.deepEqual(await desiredHosts(), ['h1', 'h2', 'h3']);
    const [event] = await t.ctx.store.listPlacements({ tag: TREE.CLUSTER });
    assert.deepEqual([event?.kind, event?.from, event?.to], ['scale', null, 'h3']);
  });

  it('an unheard host leaves at once (its copy stale), the instance runs elsewhere, and the stale copy stops when it returns', async () => {
    await t.ctx.store.schedule.setClusterSchedule(TREE.CLUSTER, { ...SPEC, count: 2 });
    await report(['h1', 'h2', 'h3'], ['h1', 'h2', 'h3']);
    await loop.tick(); // scaled down: one host's instance drained and stopped
    const down = await running();
    assert.ok(down && down.kind === 'undeploy', 'a scale down stops through an undeploy');
    const leaving = down.hosts[0]!;
    const stay = ['h1', 'h2', 'h3'].filter((h) => h !== leaving);
    const stopped = await t.drive(down.id, { [leaving]: agents[leaving]! }, []);
    assert.equal(stopped.status, 'succeeded');
    assert.deepEqual(await desiredHosts(), stay);
    // now the first of the two goes quiet
    const [dead, alive] = stay as [string, string];
    await until('the quiet host to be unheard', async () => {
      await report([alive, leaving], [alive]);
      return !loop.isUp({ lastSeen: t.ctx.reports.lastSeen(dead, null) });
    });
    await loop.tick();
    assert.deepEqual(await hostsOf(), [alive, leaving].sort(), 'the dead host was replaced by the free one');
    assert.deepEqual(
      (await t.ctx.store.listStaleCopies()).map((s) => s.host),
      [dead],
    );
    const moved = await running();
    assert.ok(moved && moved.kind === 'deploy');
    assert.deepEqual(moved.hosts, [leaving]);
    const [migrate] = await t.ctx.store.listPlacements({ tag: TREE.CLUSTER });
    assert.deepEqual([migrate?.kind, migrate?.from, migrate?.to], ['migrate', dead, leaving]);
    await t.drive(moved.id, { [leaving]: agents[leaving]! }, [upProcess(TREE.CLUSTER, V)]);
    // the dead host returns, still running its copy: its answer no longer lists it and names it in `stops`
    await until('the stale copy to be named in stops', async () => {
      const answer = (await t.call(agents[dead]!, 'GET', '/api/v1/agent/desired?after=-1')).json() as {
        instances?: { tag: string }[];
        stops?: string[];
      };
      return (answer.stops ?? []).includes(TREE.CLUSTER) && !(answer.instances ?? []).some((e) => e.tag === TREE.CLUSTER);
    });
    await report([dead], [dead]);
    await loop.tick();
    assert.equal((await t.ctx.store.listStaleCopies()).length, 1, 'kept while the host still runs it');
    await report([dead, alive, leaving], [alive, leaving]);
    await loop.tick();
    assert.deepEqual(await t.ctx.store.listStaleCopies(), []);
    const [stale] = await t.ctx.store.listPlacements({ tag: TREE.CLUSTER });
    assert.deepEqual([stale?.kind, stale?.from, stale?.to], ['stale', dead, null]);
    assert.deepEqual(await hostsOf(), [alive, leaving].sort(), 'no flapping: the returned host is not taken back');
  });

  it("a leader that lost the loop's lease writes no placements (its fence is refused)", async () => {
    // another server took the schedule loop: this writer's fence names the old holder and epoch
    const epoch = await t.ctx.store.acquireLease('schedule-fence-test', 'old-leader', 60_000);
    assert.ok(epoch !== undefined);
    await t.ctx.store.acquireLease('schedule-fence-test', 'new-leader', 60_000, true);
    const stale = scheduleWriter(
      t.ctx,
      () => undefined,
      () => ({ loop: 'schedule-fence-test', holder: 'old-leader', epoch: epoch! }),
    );
    const before_ = await hostsOf();
    await assert.rejects(stale.setPlacements(TREE.CLUSTER, ['h3'], []), (err: { code?: string }) => err.code === 'NOOPS_E_FENCED');
    assert.deepEqual(await hostsOf(), before_);
  });

  it('unheard hosts leave at most the budget per minute, counted across a change of leader', async () => {
    let now = Date.parse('2026-12-04T10:00:00.000Z');
    const silent: LoopHost[] = ['a', 'b', 'c'].map((name) => ({
      name,
      labels: {},
      lastSeen: null,
      draining: false,
      capacity: null,
      scope: TREE.ROOT,
    }));
    const leader = () =>
      new ScheduleLoop({
        state: { ...scheduleState(t.ctx), hosts: async () => silent },
        write: scheduleWriter(t.ctx, () => {}),
        planner: schedulePlanner(),
        now: () => now,
      });
    const admit = (l: ScheduleLoop): Promise<Set<string>> =>
      (l as unknown as { admitDown(h: unknown[]): Promise<Set<string>> }).admitDown(silent);
    assert.deepEqual([...(await admit(leader()))], ['a'], '10% of 3 hosts, at least one: the longest silent first (ties: in order)');
    // another server takes the loop over within the minute: it counts what the first let leave
    now += MIGRATE_WINDOW_MS / 2;
    const next = leader();
    assert.deepEqual([...(await admit(next))], ['a']);
    // a minute after the first left, the budget allows one more
    now += MIGRATE_WINDOW_MS / 2;
    assert.deepEqual([...(await admit(next))].sort(), ['a', 'b']);
    assert.deepEqual(
      (await t.ctx.store.schedule.listVacating()).map((v) => [v.host, v.since]),
      [
        ['a', '2026-12-04T10:00:00.000Z'],
        ['b', '2026-12-04T10:01:00.000Z'],
      ],
    );
    // a host heard again is forgotten: it would count afresh if it went quiet again
    silent[0]!.lastSeen = new Date(now).toISOString();
    assert.deepEqual([...(await admit(next))], ['b']);
    assert.deepEqual(
      (await t.ctx.store.schedule.listVacating()).map((v) => v.host),
      ['b'],
    );
  });

  it("the budget's window is counted in the database's clock, not this server's", async () => {
    // the database says it is a year later than this process thinks (another server's clock, say)
    const dbNow = Date.now() + 365 * 24 * 3600_000;
    const silent: LoopHost[] = ['x1', 'x2'].map((name) => ({
      name,
      labels: {},
      lastSeen: null,
      draining: false,
      capacity: null,
      scope: TREE.ROOT,
    }));
    const l = new ScheduleLoop({
      state: { ...scheduleState(t.ctx), hosts: async () => silent, now: async () => dbNow },
      write: scheduleWriter(t.ctx, () => {}),
      planner: schedulePlanner(),
    });
    const admitted = await (l as unknown as { admitDown(h: unknown[]): Promise<Set<string>> }).admitDown(silent);
    assert.deepEqual([...admitted], ['x1']);
    assert.deepEqual(
      (await t.ctx.store.schedule.listVacating()).map((v) => [v.host, v.since]),
      [['x1', new Date(dbNow).toISOString()]],
    );
  });

  it("with no cluster scheduled and no stale copy, a tick does not read every host's row", async () => {
    let hostReads = 0;
    const idle = new ScheduleLoop({
      state: {
        ...scheduleState(t.ctx),
        scheduledClusters: async () => [],
        staleCopies: async () => [],
        hosts: async () => {
          hostReads++;
          return [];
        },
      },
      write: scheduleWriter(t.ctx, () => {}),
      planner: schedulePlanner(),
    });
    await idle.tick();
    assert.equal(hostReads, 0);
  });
});
