/**
 * Clusters' replicas per host and desired entries' replicas (migration 0028_replicas) on both
 * backends: SQLite in memory, and PostgreSQL when NOOPS_TEST_PG_URL is set.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { DesiredRow, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const AT = '2026-01-01T00:00:00.000Z';
const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

async function using(open: () => Promise<Store>, fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

function row(host: string, replicas?: number | null): DesiredRow {
  return {
    host,
    tag: CLUSTER,
    version: 'abc123456',
    sha256: 'a'.repeat(64),
    manifest: { processes: [] },
    deploymentId: null,
    updatedAt: AT,
    kind: 'deploy',
    ...(replicas !== undefined && { replicas }),
  };
}

function behaves(open: () => Promise<Store>): void {
  it("a cluster's replicas: absent until set, only counts above one kept, left by putCluster, cleared", async () => {
    await using(open, async (store) => {
      await store.putCluster({ tag: CLUSTER, hosts: ['h1', 'h2'], policy: {}, conf: null, updatedAt: AT });
      const before = await store.getCluster(CLUSTER);
      assert.equal('replicas' in before!, false, 'a cluster without replicas reads as before');
      assert.equal(await store.replicas.setClusterReplicas(CLUSTER, { h2: 3, h1: 1 }), true);
      assert.deepEqual((await store.getCluster(CLUSTER))?.replicas, { h2: 3 });
      await store.putCluster({ tag: CLUSTER, hosts: ['h1', 'h2', 'h3'], policy: {}, conf: null, updatedAt: AT });
      assert.deepEqual((await store.listClusters())[0]?.replicas, { h2: 3 }, 'putCluster leaves it');
      await store.replicas.setClusterReplicas(CLUSTER, { h1: 1 });
      assert.equal((await store.getCluster(CLUSTER))?.replicas, undefined);
      assert.equal(await store.replicas.setClusterReplicas('cop.x_cluster.none', { h1: 2 }), false);
    });
  });

  it("a desired entry's replicas: written, replaced, read by getDesired, listDesired and listDesiredHeads; one reads as absent", async () => {
    await using(open, async (store) => {
      await store.setDesired('h1', CLUSTER, row('h1', 3));
      await store.setDesired('h2', CLUSTER, row('h2'));
      assert.equal((await store.getDesired('h1')).entries[0]?.replicas, 3);
      const plain = (await store.getDesired('h2')).entries[0]!;
      assert.equal('replicas' in plain, false, 'an entry without replicas reads as before');
      await store.setDesiredMany(CLUSTER, [
        { host: 'h1', row: row('h1', 1) },
        { host: 'h2', row: row('h2', 2) },
      ]);
      for (const list of [await store.listDesired(CLUSTER), await store.listDesiredHeads(CLUSTER)])
        assert.deepEqual(
          list.map((d) => [d.host, d.replicas]),
          [
            ['h1', undefined],
            ['h2', 2],
          ],
        );
    });
  });
}

describe('replicas columns on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('replicas columns on postgres', { skip: NEEDS_PG }, () => {
  const made: TestDatabase[] = [];
  after(async () => {
    await Promise.all(made.map((d) => d.drop()));
  });
  behaves(async () => {
    const db = await testDatabase('noops_rep');
    made.push(db);
    return openStore(db.url);
  });
});
