/**
 * Stored host reports on both backends: SQLite in memory, and PostgreSQL when NOOPS_TEST_PG_URL
 * is set (a fresh `noops_hr_<random>` database, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

let db: TestDatabase | undefined;

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:01.000Z';
const T2 = '2026-01-01T00:00:02.000Z';

function behaves(open: () => Promise<Store>): void {
  it('a newer report replaces a stored one, an older one never does; a host given twice keeps its newest', async () => {
    const store = await open();
    try {
      await store.putHostReports([{ host: 'h1', at: T1, report: '{"v":1}' }]);
      await store.putHostReports([{ host: 'h1', at: T0, report: '{"v":0}' }]); // another server's, older: it lost
      assert.deepEqual(await store.listHostReports(['h1']), [{ host: 'h1', at: T1, report: '{"v":1}' }]);
      await store.putHostReports([
        { host: 'h1', at: T2, report: '{"v":2}' },
        { host: 'h1', at: T1, report: '{"v":1}' },
      ]);
      assert.deepEqual(await store.listHostReports(['h1']), [{ host: 'h1', at: T2, report: '{"v":2}' }]);
    } finally {
      await store.close();
    }
  });

  it('lists the hosts asked for (or all), in batches of any size; host rm deletes its report', async () => {
    const store = await open();
    try {
      const hosts = Array.from({ length: 1200 }, (_, i) => `h${String(i).padStart(4, '0')}`);
      await store.putHostReports(hosts.map((host) => ({ host, at: T0, report: '{}' })));
      assert.equal((await store.listHostReports()).length, 1200);
      const asked = [...hosts.slice(0, 700), 'nobody'];
      assert.deepEqual((await store.listHostReports(asked)).map((r) => r.host).sort(), hosts.slice(0, 700));
      assert.deepEqual(await store.listHostReports([]), []);
      await store.deleteHost('h0001');
      assert.deepEqual(await store.listHostReports(['h0000', 'h0001']).then((rows) => rows.map((r) => r.host)), ['h0000']);
    } finally {
      await store.close();
    }
  });
}

describe('host reports on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('host reports on postgres', { skip: NEEDS_PG }, () => {
  after(async () => {
    await db?.drop();
  });
  behaves(async () => {
    const made = (db ??= await testDatabase('noops_hr'));
    const store = await openStore(made.url);
    // each test starts empty: the database is shared by this file's tests
    await store.listHostReports().then((rows) => Promise.all(rows.map((r) => store.deleteHost(r.host))));
    return store;
  });
});
