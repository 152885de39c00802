/**
 * The scheduler's history on both backends: SQLite in memory, and PostgreSQL when
 * NOOPS_TEST_PG_URL is set (a fresh `noops_placements_<random>` database, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

let db: TestDatabase | undefined;

function behaves(open: () => Promise<Store>): void {
  it('events are kept per cluster, in order, most recent first, and paged back by id', async () => {
    const store = await open();
    try {
      await store.recordPlacements([
        { tag: 'cop.a_cluster.c', kind: 'place', from: null, to: 'h1', reason: 'count 2: binpack' },
        { tag: 'cop.a_cluster.c', kind: 'place', from: null, to: 'h2', reason: 'count 2: binpack' },
        { tag: 'cop.b_cluster.c', kind: 'scale', from: 'h3', to: null, reason: 'count 1' },
      ]);
      await store.recordPlacements([{ tag: 'cop.a_cluster.c', kind: 'migrate', from: 'h1', to: 'h3', reason: 'h1 unheard for 10 s' }]);
      const a = await store.listPlacements({ tag: 'cop.a_cluster.c' });
      assert.deepEqual(
        a.map((e) => [e.kind, e.from, e.to, e.reason]),
        [
          ['migrate', 'h1', 'h3', 'h1 unheard for 10 s'],
          ['place', null, 'h2', 'count 2: binpack'],
          ['place', null, 'h1', 'count 2: binpack'],
        ],
      );
      assert.ok(a.every((e) => e.tag === 'cop.a_cluster.c' && !Number.isNaN(Date.parse(e.at))));
      const older = await store.listPlacements({ tag: 'cop.a_cluster.c', before: a[0]!.id, limit: 1 });
      assert.deepEqual(
        older.map((e) => e.to),
        ['h2'],
      );
      assert.equal((await store.listPlacements({ tag: 'cop.b_cluster.c' })).length, 1);
      await store.tx((s) => s.recordPlacements([{ tag: 'cop.b_cluster.c', kind: 'drain', from: 'h3', to: 'h4', reason: 'h3 drains' }]));
      assert.equal((await store.listPlacements({ tag: 'cop.b_cluster.c' }))[0]!.kind, 'drain', 'written inside a transaction too');
      await store.addStaleCopy({ host: 'h1', tag: 'cop.a_cluster.c', since: '2026-01-01T00:00:00.000Z' });
      await store.addStaleCopy({ host: 'h1', tag: 'cop.a_cluster.c', since: '2026-01-02T00:00:00.000Z' });
      assert.deepEqual(
        await store.listStaleCopies(),
        [{ host: 'h1', tag: 'cop.a_cluster.c', since: '2026-01-01T00:00:00.000Z' }],
        'marked once',
      );
      assert.equal(await store.removeStaleCopy('h1', 'cop.a_cluster.c'), true);
      assert.equal(await store.removeStaleCopy('h1', 'cop.a_cluster.c'), false);
      assert.deepEqual(await store.listStaleCopies(), []);
    } finally {
      await store.close();
    }
  });
}

describe('placement history on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('placement history on postgres', { skip: NEEDS_PG }, () => {
  after(async () => {
    await db?.drop();
  });
  behaves(async () => {
    const made = (db ??= await testDatabase('noops_placements'));
    return openStore(made.url);
  });
});
