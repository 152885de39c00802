/**
 * Packages staged for hosts (staged.ts) on both backends: SQLite in a temp dir, PostgreSQL when
 * NOOPS_TEST_PG_URL is set (a database of the test's own, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredRow, Store } from './index.js';
import { openStore } from './open.js';
import { NEEDS_PG, testDatabase } from './test-pg.js';

const TAG = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.prod';
const A = { tag: TAG, version: 'v2', sha256: 'a'.repeat(64) };
const B = { tag: TAG, version: 'v3', sha256: 'b'.repeat(64) };
const row = (host: string): DesiredRow => ({
  host,
  tag: TAG,
  version: 'v1',
  sha256: 'c'.repeat(64),
  manifest: { processes: [] },
  deploymentId: 1,
  updatedAt: '2025-01-01T00:00:00.000Z',
  kind: null,
});

const backends: { name: string; skip: string | false; open(): Promise<Store> }[] = [
  {
    name: 'sqlite',
    skip: false,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'noops-staged-'));
      after(() => rmSync(dir, { recursive: true, force: true }));
      return openStore(`sqlite:${join(dir, 'noops.db')}`);
    },
  },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    open: async () => {
      const db = await testDatabase('noops_staged');
      after(() => db.drop());
      return openStore(db.url);
    },
  },
];

for (const backend of backends) {
  describe(`staged packages on ${backend.name}`, { skip: backend.skip }, () => {
    it("names a package for the hosts until its time, raising each host's generation by one once per staging", async () => {
      const store = await backend.open();
      after(() => store.close());
      await store.setDesired('h1', TAG, row('h1'));
      const g1 = await store.desiredGeneration('h1');
      await store.stagePackage(['h2', 'h1', 'h1'], A, 10_000, 1_000);
      assert.equal(await store.desiredGeneration('h1'), g1 + 1, 'raised once, though named twice');
      assert.equal(await store.desiredGeneration('h2'), 1, 'a host without a generation gets one');
      assert.equal(await store.desiredGeneration('h3'), 0, 'another host untouched');
      assert.deepEqual(
        await store.stagedMany(['h1', 'h2', 'h3'], 5_000),
        new Map([
          ['h1', [A]],
          ['h2', [A]],
        ]),
      );
      assert.deepEqual(await store.stagedMany(['h1'], 10_000), new Map(), 'not at its time');
      // staged again: the later time holds; a second package comes after the first
      await store.stagePackage(['h1'], A, 20_000, 1_000);
      await store.stagePackage(['h1'], B, 30_000, 1_000);
      assert.equal(await store.desiredGeneration('h1'), g1 + 3);
      assert.deepEqual((await store.stagedMany(['h1'], 15_000)).get('h1'), [A, B]);
      // a staging at a later time removes the ones expired by then (h2's, of A at 10,000)
      await store.stagePackage(['h3'], B, 40_000, 12_000);
      assert.deepEqual([...(await store.stagedMany(['h1', 'h2', 'h3'], 0)).keys()].sort(), ['h1', 'h3']);
      // the same package staged for another cluster's host: its own deployment unstages it
      await store.stagePackage(['h4'], { ...A, tag: `${TAG}b` }, 40_000, 12_000);
      // unstaged: package A for nobody of the cluster, B as it was
      assert.equal(await store.unstagePackage(TAG, A.sha256), 1);
      assert.equal(await store.unstagePackage(TAG, A.sha256), 0);
      assert.deepEqual((await store.stagedMany(['h4'], 0)).get('h4'), [{ ...A, tag: `${TAG}b` }], "another cluster's staging stays");
      assert.deepEqual(
        await store.stagedMany(['h1', 'h3'], 0),
        new Map([
          ['h1', [B]],
          ['h3', [B]],
        ]),
      );
    });

    it('stages more hosts than one statement holds', async () => {
      const store = await backend.open();
      after(() => store.close());
      const hosts = Array.from({ length: 1_203 }, (_, i) => `h${i}`);
      await store.stagePackage(hosts, A, 10_000, 1_000);
      const staged = await store.stagedMany(hosts, 1_000);
      assert.equal(staged.size, hosts.length);
      for (const h of [hosts[0]!, hosts[700]!, hosts.at(-1)!]) assert.equal(await store.desiredGeneration(h), 1);
    });
  });
}
