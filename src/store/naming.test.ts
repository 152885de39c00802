/**
 * Naming lookups on both backends: SQLite in memory, and PostgreSQL when NOOPS_TEST_PG_URL is set
 * (a fresh `noops_naming_<random>` database, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { NamingLookupRow, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

let db: TestDatabase | undefined;

const row = (callerHost: string, target: string, at: string, count = 1): NamingLookupRow => ({
  callerHost,
  callerTag: 'cop.acme_job.cart',
  target,
  via: 'dns',
  firstAt: at,
  lastAt: at,
  count,
});

function behaves(open: () => Promise<Store>): void {
  it('a known caller and target counts up and moves its last time; the first time stays', async () => {
    const store = await open();
    try {
      await store.recordNamingLookups([
        row('h1', 'service=pay', '2026-01-01T00:00:00.000Z', 3),
        row('h2', 'service=pay', '2026-01-01T00:00:01.000Z'),
      ]);
      await store.recordNamingLookups([row('h1', 'service=pay', '2026-01-01T00:00:05.000Z', 2)]);
      await store.recordNamingLookups([]);
      const rows = await store.listNamingLookups();
      assert.deepEqual(
        rows.map((r) => [r.callerHost, r.target, r.firstAt, r.lastAt, r.count, r.via, r.callerTag]),
        [
          ['h1', 'service=pay', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:05.000Z', 5, 'dns', 'cop.acme_job.cart'],
          ['h2', 'service=pay', '2026-01-01T00:00:01.000Z', '2026-01-01T00:00:01.000Z', 1, 'dns', 'cop.acme_job.cart'],
        ],
      );
      const many = Array.from({ length: 1200 }, (_, i) => row(`m${i}`, 'service=pay', '2026-01-01T00:00:09.000Z'));
      await store.recordNamingLookups(many);
      assert.equal((await store.listNamingLookups()).length, 1202, 'written in batches of any size');
    } finally {
      await store.close();
    }
  });
}

describe('naming lookups on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('naming lookups on postgres', { skip: NEEDS_PG }, () => {
  after(async () => {
    await db?.drop();
  });
  behaves(async () => {
    const made = (db ??= await testDatabase('noops_naming'));
    return openStore(made.url);
  });
});
