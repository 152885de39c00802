/**
 * StrategyBook on a real (SQLite, in memory) store and the in-process bus: inheritance down the
 * tree, a lower node's override and `off`, run windows across midnight, a host beneath a node,
 * an instance that appears under a node after its strategy, maintenance and nodata.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS, LocalChangeBus } from '../../bus/index.js';
import type { NewStrategy, Store } from '../../store/index.js';
import { openStore } from '../../store/open.js';
import type { JudgePoint } from '../judge/types.js';
import { HOSTS_REFRESH_MS, StrategyBook } from './book.js';

const PDL = 'cop.xiaomi_owt.miliao_pdl.account';
const JOB = `${PDL}_service.login_job.api`;
const CLUSTER = `${JOB}_cluster.prod`;
const INSTANCE_TAGS = 'cluster=prod,cop=xiaomi,job=api,owt=miliao,pdl=account,process=web,service=login';
const NOON = new Date(2026, 0, 1, 12, 0);

function strategy(over: Partial<NewStrategy>): NewStrategy {
  return {
    node: PDL,
    metric: 'common.servicerunning',
    tags: '',
    func: 'all(#3)',
    op: '==',
    right: 0,
    maxStep: 99,
    priority: 2,
    note: '',
    runFrom: null,
    runTo: null,
    off: false,
    createdBy: 'admin',
    createdAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

function point(over: Partial<JudgePoint>): JudgePoint {
  return { endpoint: 'h1', metric: 'common.servicerunning', tags: INSTANCE_TAGS, counterType: 'GAUGE', timestamp: 60, value: 1, ...over };
}

describe('StrategyBook', () => {
  let store: Store;
  let bus: LocalChangeBus;
  let book: StrategyBook;
  let instances: { host: string; tag: string }[];
  let now: number;

  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    bus = new LocalChangeBus();
    instances = [];
    now = 1_000_000;
    book = new StrategyBook({ store, bus, instances: () => instances, clock: () => now });
  });
  afterEach(async () => {
    book.close();
    await store.close();
  });

  /** Publishes a change as the routes do, and waits for the book to have read it. */
  const changed = async (): Promise<void> => {
    await bus.publish(CHANNELS.strategies, '');
    await book.ready();
  };

  it('answers nothing before its first read; a strategy at a high node applies to an instance beneath it, tag-bound', async () => {
    const s = await store.addStrategy(strategy({ note: 'down' }));
    assert.deepEqual(book.forPoint(point({}), NOON), []);
    await book.load();
    assert.deepEqual(book.forPoint(point({}), NOON), [
      {
        id: String(s.id),
        metric: 'common.servicerunning',
        tags: { cop: 'xiaomi', owt: 'miliao', pdl: 'account' },
        func: 'all(#3)',
        op: '==',
        right: 0,
        maxStep: 99,
        priority: 2,
        note: 'down',
      },
    ]);
    // another metric, or an instance of another pdl: nothing
    assert.deepEqual(book.forPoint(point({ metric: 'common.servicerss' }), NOON), []);
    assert.deepEqual(book.forPoint(point({ tags: INSTANCE_TAGS.replace('pdl=account', 'pdl=pay') }), NOON), []);
  });

  it('an instance created under the node after the strategy was added is covered at once (its tags say where it is)', async () => {
    const s = await store.addStrategy(strategy({}));
    await book.load();
    const newcomer = 'cluster=canary,cop=xiaomi,job=worker,owt=miliao,pdl=account,process=w,service=queue';
    assert.deepEqual(
      book.forPoint(point({ tags: newcomer, endpoint: 'h9' }), NOON).map((x) => x.id),
      [String(s.id)],
    );
  });

  it("a lower node's strategy for the same metric and tags replaces the higher one's; off removes it; other tags stay", async () => {
    const high = await store.addStrategy(strategy({}));
    const other = await store.addStrategy(strategy({ tags: 'process=web', right: 0 }));
    await book.load();
    assert.deepEqual(
      book.forPoint(point({}), NOON).map((x) => x.id),
      [String(high.id), String(other.id)],
    );

    const low = await store.addStrategy(strategy({ node: JOB, maxStep: 3, priority: 0 }));
    await changed();
    const got = book.forPoint(point({}), NOON);
    assert.deepEqual(
      got.map((x) => x.id),
      [String(other.id), String(low.id)],
    );
    assert.deepEqual(got[1]!.tags, { cop: 'xiaomi', owt: 'miliao', pdl: 'account', service: 'login', job: 'api' });
    // a sibling job keeps the high one
    const sibling = INSTANCE_TAGS.replace('job=api', 'job=cron');
    assert.deepEqual(
      book.forPoint(point({ tags: sibling }), NOON).map((x) => x.id),
      [String(high.id), String(other.id)],
    );

    await store.addStrategy(strategy({ node: CLUSTER, off: true }));
    await changed();
    assert.deepEqual(
      book.forPoint(point({}), NOON).map((x) => x.id),
      [String(other.id)],
    );
  });

  it('only strategies whose run window holds now, in local time, a window across midnight included', async () => {
    const day = await store.addStrategy(strategy({ runFrom: '09:00', runTo: '18:00' }));
    const night = await store.addStrategy(strategy({ tags: 'process=web', runFrom: '22:00', runTo: '06:00' }));
    await book.load();
    const at = (h: number, m: number): string[] => book.forPoint(point({}), new Date(2026, 0, 1, h, m)).map((x) => x.id);
    assert.deepEqual(at(12, 0), [String(day.id)]);
    assert.deepEqual(at(9, 0), [String(day.id)]);
    assert.deepEqual(at(18, 0), []);
    assert.deepEqual(at(23, 30), [String(night.id)]);
    assert.deepEqual(at(0, 10), [String(night.id)]);
    assert.deepEqual(at(5, 59), [String(night.id)]);
    assert.deepEqual(at(6, 0), []);
  });

  it("a host's series gets the strategies of the nodes its clusters and instances are under, bound to the host", async () => {
    const s = await store.addStrategy(strategy({ metric: 'cpu.idle', op: '<', right: 5, tags: '' }));
    const df = await store.addStrategy(
      strategy({ node: 'cop.xiaomi', metric: 'df.bytes.free.percent', op: '<', right: 10, tags: 'mount=/' }),
    );
    await store.putCluster({ tag: CLUSTER, hosts: ['h1'], policy: {}, conf: null, updatedAt: '2026-01-01T00:00:00.000Z' });
    instances = [{ host: 'h2', tag: CLUSTER }];
    await book.load();
    const cpu = (endpoint: string) => book.forPoint(point({ endpoint, metric: 'cpu.idle', tags: '' }), NOON);
    assert.deepEqual(cpu('h1'), [
      {
        id: String(s.id),
        metric: 'cpu.idle',
        tags: {},
        endpoint: 'h1',
        func: 'all(#3)',
        op: '<',
        right: 5,
        maxStep: 99,
        priority: 2,
        note: '',
      },
    ]);
    assert.deepEqual(
      cpu('h2').map((x) => [x.id, x.endpoint]),
      [[String(s.id), 'h2']],
    );
    assert.deepEqual(cpu('h3'), []);
    const disk = book.forPoint(point({ metric: 'df.bytes.free.percent', tags: 'fstype=ext4,mount=/', endpoint: 'h1' }), NOON);
    assert.deepEqual(
      disk.map((x) => [x.id, x.endpoint, x.tags]),
      [[String(df.id), 'h1', { mount: '/' }]],
    );

    // a host put in the cluster later: seen on the next read (the bus, or the refresh)
    await store.putCluster({ tag: CLUSTER, hosts: ['h1', 'h3'], policy: {}, conf: null, updatedAt: '2026-01-01T00:00:01.000Z' });
    assert.deepEqual(cpu('h3'), []);
    now += HOSTS_REFRESH_MS + 1;
    cpu('h3'); // asks for a fresh read
    await book.ready();
    assert.deepEqual(
      cpu('h3').map((x) => x.id),
      [String(s.id)],
    );
  });

  it('a host on two paths: an override on one path does not hide the strategy on the other', async () => {
    const high = await store.addStrategy(strategy({ metric: 'cpu.idle' }));
    await store.addStrategy(strategy({ node: JOB, metric: 'cpu.idle', off: true }));
    await store.putCluster({ tag: CLUSTER, hosts: ['h1'], policy: {}, conf: null, updatedAt: 'x' });
    await book.load();
    assert.deepEqual(book.forPoint(point({ metric: 'cpu.idle', tags: '' }), NOON), []);
    await store.putCluster({ tag: `${PDL}_service.login_job.cron_cluster.prod`, hosts: ['h1'], policy: {}, conf: null, updatedAt: 'x' });
    await bus.publish(CHANNELS.tree, '');
    await book.ready();
    assert.deepEqual(
      book.forPoint(point({ metric: 'cpu.idle', tags: '' }), NOON).map((x) => x.id),
      [String(high.id)],
    );
  });

  it('maintenance covers the instances and hosts beneath its node, or its host, until it ends', async () => {
    await store.putCluster({ tag: CLUSTER, hosts: ['h1'], policy: {}, conf: null, updatedAt: 'x' });
    const until = new Date(now + 3_600_000).toISOString();
    await store.addMaintenance({ node: JOB, host: null, until, reason: 'upgrade', createdBy: 'a', createdAt: 'x' });
    await store.addMaintenance({ node: null, host: 'h7', until, reason: 'disk', createdBy: 'a', createdAt: 'x' });
    await book.load();
    const at = new Date(now);
    assert.deepEqual(book.maintenance('h5', INSTANCE_TAGS, at), { until, reason: 'upgrade' });
    assert.deepEqual(book.maintenance('h1', '', at), { until, reason: 'upgrade' });
    assert.deepEqual(book.maintenance('h7', 'mount=/', at), { until, reason: 'disk' });
    assert.equal(book.maintenance('h2', '', at), undefined);
    assert.equal(book.maintenance('h5', INSTANCE_TAGS.replace('job=api', 'job=cron'), at), undefined);
    assert.equal(book.maintenance('h1', '', new Date(now + 3_600_001)), undefined);
  });

  it('nodata: every rule, and the one of a series at the lowest node that matches', async () => {
    const base = { metric: 'agent.alive', tags: '', afterSeconds: 120, mock: -1, step: null, createdBy: 'a', createdAt: 'x' };
    const high = await store.addNodata({ ...base, node: 'cop.xiaomi' });
    const low = await store.addNodata({ ...base, node: JOB, mock: -2, step: 30 });
    await store.putCluster({ tag: CLUSTER, hosts: ['h1'], policy: {}, conf: null, updatedAt: 'x' });
    await store.putCluster({
      tag: 'cop.xiaomi_owt.other_pdl.x_service.y_job.z_cluster.c',
      hosts: ['h2'],
      policy: {},
      conf: null,
      updatedAt: 'x',
    });
    await book.load();
    assert.deepEqual(
      book.nodataRules().map((r) => [r.id, r.pairs, r.mock, r.step]),
      [
        [high.id, { cop: 'xiaomi' }, -1, undefined],
        [low.id, { cop: 'xiaomi', owt: 'miliao', pdl: 'account', service: 'login', job: 'api' }, -2, 30],
      ],
    );
    assert.equal(book.nodataFor({ endpoint: 'h1', metric: 'agent.alive', tags: '' })?.id, low.id);
    assert.equal(book.nodataFor({ endpoint: 'h2', metric: 'agent.alive', tags: '' })?.id, high.id);
    assert.equal(book.nodataFor({ endpoint: 'h3', metric: 'agent.alive', tags: '' }), undefined);
    assert.equal(book.nodataFor({ endpoint: 'h3', metric: 'agent.alive', tags: INSTANCE_TAGS })?.id, low.id);
    assert.equal(book.nodataFor({ endpoint: 'h1', metric: 'cpu.idle', tags: '' }), undefined);
  });

  it('is forgotten on the bus: a removed strategy stops applying once read', async () => {
    const s = await store.addStrategy(strategy({}));
    await book.load();
    assert.equal(book.forPoint(point({}), NOON).length, 1);
    await store.deleteStrategy(s.id);
    await changed();
    assert.deepEqual(book.forPoint(point({}), NOON), []);
  });

  it("generation: changes with the strategies and the hosts' nodes; an instance's answer outlives a hosts' change", async () => {
    const s = await store.addStrategy(strategy({}));
    await store.addStrategy(strategy({ metric: 'cpu.idle', op: '<', right: 5 }));
    await book.load();
    const g0 = book.generation();
    const inst = book.candidatesOf(point({}), NOON);
    assert.equal(inst.holds, true);
    assert.deepEqual(
      inst.strategies.map((x) => x.id),
      [String(s.id)],
    );
    assert.deepEqual(book.candidatesOf(point({ endpoint: 'h9', metric: 'cpu.idle', tags: '' }), NOON).strategies, []);
    assert.equal(book.generation(), g0); // nothing changed

    // a host now runs an instance beneath the node: hosts' answers change, instances' stay
    instances = [{ host: 'h9', tag: CLUSTER }];
    now += HOSTS_REFRESH_MS + 1;
    book.generation(); // asks for a fresh read of the hosts' nodes
    await book.ready();
    const g1 = book.generation();
    assert.notEqual(g1, g0);
    assert.equal(book.candidatesOf(point({}), NOON).strategies, inst.strategies); // the same answer, kept
    assert.equal(book.candidatesOf(point({ endpoint: 'h9', metric: 'cpu.idle', tags: '' }), NOON).strategies.length, 1);

    // a strategy changed: every answer may change
    await store.addStrategy(strategy({ node: JOB, op: '<', right: 1 }));
    await changed();
    assert.notEqual(book.generation(), g1);
    assert.notEqual(book.candidatesOf(point({}), NOON).strategies, inst.strategies);
  });

  it("the refresh reads only the hosts' nodes: strategies, nodata and maintenance come with the bus", async () => {
    const reads = { strategies: 0, clusters: 0 };
    const counted = new StrategyBook({
      store: {
        listStrategies: () => {
          reads.strategies++;
          return store.listStrategies();
        },
        listNodata: () => store.listNodata(),
        listMaintenance: (f) => store.listMaintenance(f),
        listClusters: () => {
          reads.clusters++;
          return store.listClusters();
        },
        listInstances: () => store.listInstances(),
      },
      bus,
      instances: () => instances,
      clock: () => now,
    });
    try {
      await counted.load();
      assert.deepEqual(reads, { strategies: 1, clusters: 1 });
      now += HOSTS_REFRESH_MS + 1;
      counted.generation();
      await counted.ready();
      assert.deepEqual(reads, { strategies: 1, clusters: 2 });
      await bus.publish(CHANNELS.strategies, '');
      await counted.ready();
      assert.deepEqual(reads, { strategies: 2, clusters: 3 });
    } finally {
      counted.close();
    }
  });

  it('nodeOf: the node of every strategy read, also after it was removed (an event of it may still be stored)', async () => {
    const s = await store.addStrategy(strategy({ node: JOB }));
    await book.load();
    assert.equal(book.nodeOf(String(s.id)), JOB);
    await store.deleteStrategy(s.id);
    await changed();
    assert.equal(book.nodeOf(String(s.id)), JOB);
    assert.equal(book.nodeOf('999999'), undefined);
  });
});
