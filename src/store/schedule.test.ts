/**
 * Hosts' capacity and draining, clusters' schedule (migration 0022_capacity) on both backends:
 * SQLite in memory, and PostgreSQL when NOOPS_TEST_PG_URL is set (a fresh `noops_cap_<random>`
 * database per test).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { CapacityRow, ClusterRow, ScheduleRow, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const AT = '2026-01-01T00:00:00.000Z';
const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

const CAP: CapacityRow = { cpu: 4, memory: 8 * 2 ** 30, disk: 100 * 2 ** 30, freePorts: 1000 };
const SPEC: ScheduleRow = {
  count: 6,
  cpu: 0.5,
  memory: 256 * 2 ** 20,
  constraints: [{ label: 'rack', op: '!=', value: 'r3' }],
  distinctHosts: true,
  spread: 'rack',
};

async function using(open: () => Promise<Store>, fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

function behaves(open: () => Promise<Store>): void {
  it("a host's capacity: absent until reported, set, replaced, forgotten; read by getHost and listHosts", async () => {
    await using(open, async (store) => {
      await store.upsertHost({ name: 'h1', labels: {}, address: null, joinedAt: AT });
      await store.upsertHost({ name: 'h2', labels: {}, address: null, joinedAt: AT });
      const h1 = await store.getHost('h1');
      assert.equal(h1?.capacity, undefined);
      assert.equal('capacity' in h1!, false, 'a host that never reported reads as before');
      assert.equal(await store.schedule.getHostCapacity('h1'), undefined);

      assert.equal(await store.schedule.setHostCapacity('h1', { ...CAP, extra: 1 } as CapacityRow), true);
      assert.deepEqual(await store.schedule.getHostCapacity('h1'), CAP, 'only the known fields are stored');
      assert.deepEqual((await store.getHost('h1'))?.capacity, CAP);
      assert.deepEqual(
        (await store.listHosts()).map((h) => [h.name, h.capacity]),
        [
          ['h1', CAP],
          ['h2', undefined],
        ],
      );
      assert.deepEqual([...(await store.schedule.listHostCapacities())], [['h1', CAP]]);

      const smaller = { ...CAP, cpu: 2.5, freePorts: 3 };
      await store.schedule.setHostCapacity('h1', smaller);
      assert.deepEqual((await store.listHostsNamed(['h1']))[0]?.capacity, smaller);
      await store.schedule.setHostCapacity('h1', null);
      assert.equal((await store.getHost('h1'))?.capacity, undefined);
      assert.equal(await store.schedule.setHostCapacity('nope', CAP), false);
    });
  });

  it('draining: set and cleared; a join again keeps it; unknown host answers false', async () => {
    await using(open, async (store) => {
      await store.upsertHost({ name: 'h1', labels: {}, address: null, joinedAt: AT });
      assert.equal((await store.getHost('h1'))?.draining, undefined);
      assert.equal(await store.schedule.setHostDraining('h1', true), true);
      assert.equal((await store.getHost('h1'))?.draining, true);
      await store.upsertHost({ name: 'h1', labels: { rack: 'r1' }, address: null, joinedAt: AT });
      assert.equal((await store.listHosts())[0]?.draining, true, 'an agent joining again does not undrain its host');
      await store.schedule.setHostDraining('h1', false);
      assert.equal('draining' in (await store.getHost('h1'))!, false);
      assert.equal(await store.schedule.setHostDraining('nope', true), false);
    });
  });

  it("a cluster's schedule: set, kept by putCluster, cleared; unknown cluster answers false", async () => {
    await using(open, async (store) => {
      const row: ClusterRow = { tag: CLUSTER, hosts: ['h1'], policy: {}, conf: null, updatedAt: AT };
      assert.equal(await store.schedule.setClusterSchedule(CLUSTER, SPEC), false, 'no such cluster yet');
      await store.tx(async (s) => {
        await s.putCluster(row);
        assert.equal(await s.schedule.setClusterSchedule(CLUSTER, SPEC), true);
      });
      assert.deepEqual(await store.getCluster(CLUSTER), { ...row, schedule: SPEC });
      // the scheduler writes the hosts: the spec stays
      await store.putCluster({ ...row, hosts: ['h2', 'h3'], updatedAt: AT });
      assert.deepEqual(await store.listClusters(), [{ ...row, hosts: ['h2', 'h3'], schedule: SPEC }]);
      // a cluster named by hand is not among the scheduled ones
      const byHand: ClusterRow = { tag: `${CLUSTER}x`, hosts: ['h9'], policy: {}, conf: null, updatedAt: AT };
      await store.putCluster(byHand);
      assert.deepEqual(await store.listClusters({ scheduled: true }), [{ ...row, hosts: ['h2', 'h3'], schedule: SPEC }]);
      assert.deepEqual(await store.listClusters(), [{ ...row, hosts: ['h2', 'h3'], schedule: SPEC }, byHand]);
      await store.schedule.setClusterSchedule(CLUSTER, null);
      assert.deepEqual(await store.getCluster(CLUSTER), { ...row, hosts: ['h2', 'h3'] });
      assert.deepEqual(await store.listClusters({ scheduled: true }), []);
    });
  });

  it('a schedule written in a transaction that fails is not kept', async () => {
    await using(open, async (store) => {
      await store.putCluster({ tag: CLUSTER, hosts: [], policy: {}, conf: null, updatedAt: AT });
      await assert.rejects(
        store.tx(async (s) => {
          await s.schedule.setClusterSchedule(CLUSTER, SPEC);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await store.getCluster(CLUSTER))?.schedule, undefined);
    });
  });
}

describe('schedule columns on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('schedule columns on postgres', { skip: NEEDS_PG }, () => {
  const made: TestDatabase[] = [];
  after(async () => {
    await Promise.all(made.map((d) => d.drop()));
  });
  behaves(async () => {
    const db = await testDatabase('noops_cap');
    made.push(db);
    return openStore(db.url);
  });
});
