/**
 * Replicas through the scheduler loop on a real server's store (SQLite) and rollout, its ticks
 * driven by the test: a count above what one host needs gives a host several instances (its
 * `replicas`), carried into the host's desired entry in place when it runs the cluster already,
 * resolved into the entry of a new host when the rollout writes it, and taken away again by a
 * scale down (the host that leaves undeployed, the one that stays back to one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, TREE, type TestApp, upProcess } from './test-app.js';
import { ScheduleLoop } from './schedule-loop.js';
import { schedulePlanner } from './schedule-planner.js';
import { scheduleState, scheduleWriter } from './schedule-store-ports.js';
import { clusterInstances, placementOf, replicaChanges, runsInContainers, samePlacement } from './schedule-replicas.js';

const V = 'abcdef002';
const GiB = 1024 ** 3;
const SPEC = { count: 1, cpu: 1, memory: 256 * 1024 ** 2, constraints: [], distinctHosts: false, spread: null };

let t: TestApp;
const agents: Record<string, string> = {};
let loop: ScheduleLoop;
const logged: string[] = [];

const answer = async (h: string): Promise<{ tag: string; replicas?: number }[]> =>
  (
    (await t.call(agents[h]!, 'GET', '/api/v1/agent/desired?after=-1')).json() as { instances: { tag: string; replicas?: number }[] }
  ).instances.filter((i) => i.tag === TREE.CLUSTER);
const placed = async () => {
  const c = await t.ctx.store.getCluster(TREE.CLUSTER);
  return { hosts: [...(c?.hosts ?? [])].sort(), replicas: c?.replicas };
};
const running = async () => (await t.ctx.store.listDeployments({ tag: TREE.CLUSTER, status: 'running', limit: 1 }))[0];
const scale = (count: number) => t.ctx.store.schedule.setClusterSchedule(TREE.CLUSTER, { ...SPEC, count });
/** Both hosts heard (up for the scheduler), each reporting `web` and its replicas as its entry says. */
const heard = async (): Promise<void> => {
  for (const h of ['h1', 'h2']) {
    const { generation, instances } = (await t.call(agents[h]!, 'GET', '/api/v1/agent/desired?after=-1')).json() as {
      generation: number;
      instances: { tag: string; replicas?: number }[];
    };
    const mine = instances.find((i) => i.tag === TREE.CLUSTER);
    const names = mine ? Array.from({ length: mine.replicas ?? 1 }, (_, k) => (k === 0 ? 'web' : `web@${k + 1}`)) : [];
    await t.report(agents[h]!, { processes: names.map((n) => upProcess(TREE.CLUSTER, V, n)), generation });
  }
};

describe('replicas in the scheduler loop', () => {
  before(async () => {
    t = await startTestApp({ longPollMs: 50 });
    await t.ctx.schedule!.loop.follow(); // this test ticks its own loop
    // h1 holds 3 instances of 1 core, h2 4
    for (const [h, cpu] of [
      ['h1', 3],
      ['h2', 4],
    ] as const) {
      agents[h] = await t.agent(h);
      await t.ctx.store.schedule.setHostCapacity(h, { cpu, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
      await t.ctx.store.updateHost(h, { scope: TREE.ROOT });
    }
    await t.release(TREE.JOB, V);
    await t.cluster(TREE.CLUSTER, ['h1']);
    await t.deploy(TREE.CLUSTER, V, { h1: agents.h1! });
    await scale(1);
    loop = new ScheduleLoop({
      state: scheduleState(t.ctx),
      write: scheduleWriter(t.ctx, (l) => logged.push(l)),
      planner: schedulePlanner(),
      log: (l) => logged.push(l),
    });
  });
  after(() => t.close());

  it('a count of 3 on a host that holds 3 becomes 3 replicas there: its entry changes in place, no deployment', async () => {
    assert.equal((await answer('h1')).length, 1);
    assert.equal((await answer('h1'))[0]?.replicas, undefined, 'one replica: the answer is as before');
    await scale(3);
    await heard();
    await loop.tick();
    assert.deepEqual(await placed(), { hosts: ['h1'], replicas: { h1: 3 } });
    assert.equal(await running(), undefined, `no deployment (${logged.join('; ')})`);
    assert.equal((await answer('h1'))[0]?.replicas, 3);
    assert.deepEqual(
      (await t.ctx.store.listPlacements({ tag: TREE.CLUSTER })).map((e) => [e.kind, e.from, e.to]),
      [
        ['scale', null, 'h1'],
        ['scale', null, 'h1'],
      ],
    );
    await heard();
    await loop.tick();
    assert.equal((await t.ctx.store.listPlacements({ tag: TREE.CLUSTER })).length, 2, 'a second tick changes nothing');
  });

  it("a count past the host's room opens another host, whose entry the rollout writes with its replicas", async () => {
    await scale(5);
    await heard();
    await loop.tick();
    assert.deepEqual(await placed(), { hosts: ['h1', 'h2'], replicas: { h1: 3, h2: 2 } });
    const d = await running();
    assert.ok(d, `a deployment runs (${logged.join('; ')})`);
    assert.deepEqual(d.hosts, ['h2']);
    const ended = await t.drive(d.id, { h2: agents.h2! }, [upProcess(TREE.CLUSTER, V), upProcess(TREE.CLUSTER, V, 'web@2')]);
    assert.equal(ended.status, 'succeeded');
    assert.equal((await answer('h2'))[0]?.replicas, 2);
    assert.equal((await answer('h1'))[0]?.replicas, 3);
  });

  it('a scale down to 1 stops the emptiest host first, and the host that stays goes back to one', async () => {
    await scale(1);
    await heard();
    await loop.tick();
    assert.deepEqual(await placed(), { hosts: ['h1'], replicas: undefined });
    assert.equal((await answer('h1'))[0]?.replicas, undefined, 'back to one: the entry reads as before replicas');
    const d = await running();
    assert.ok(d && d.kind === 'undeploy', 'the host that leaves is stopped through an undeploy');
    assert.deepEqual(d.hosts, ['h2']);
  });
});

describe('replicas: placements as stored and as planned', () => {
  it('a cluster is a host once per instance; a plan back to hosts and counts above one', () => {
    assert.deepEqual(clusterInstances({ hosts: ['a', 'b'], replicas: { b: 3 } }), ['a', 'b', 'b', 'b']);
    assert.deepEqual(clusterInstances({ hosts: ['a'] }), ['a']);
    const next = placementOf({
      placements: [
        { host: 'b', count: 2 },
        { host: 'a', count: 1 },
      ],
    });
    assert.deepEqual(next, { hosts: ['b', 'a'], replicas: { b: 2 } });
    assert.equal(samePlacement({ hosts: ['a', 'b'], replicas: { b: 2 } }, next), true);
    assert.equal(samePlacement({ hosts: ['a', 'b'] }, next), false);
    assert.equal(samePlacement({ hosts: ['a', 'b'], replicas: { b: 2, a: 2 } }, next), false);
  });

  it('the hosts whose entry runs another count than placed', () => {
    assert.deepEqual(
      replicaChanges(
        [{ host: 'a', replicas: 3 }, { host: 'b' }, { host: 'c', replicas: 2 }, { host: 'gone', replicas: 2 }],
        ['a', 'b', 'c'],
        { a: 2, c: 2 },
      ),
      [{ host: 'a', replicas: 2 }],
    );
    assert.deepEqual(replicaChanges([{ host: 'a', replicas: 2 }], ['a'], undefined), [{ host: 'a', replicas: 1 }]);
  });
});

describe('replicas: a fixed port in containers', () => {
  it("a release runs in containers by its noops.yaml's driver, else the cluster policy's", () => {
    assert.equal(runsInContainers({ driver: 'container' }, undefined), true);
    assert.equal(runsInContainers({}, { driver: 'container' }), true);
    assert.equal(runsInContainers({ driver: 'process' }, { driver: 'container' }), false);
    assert.equal(runsInContainers({}, { batch: 2 }), false);
  });
});
