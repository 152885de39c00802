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

  it('of one agent start, the report the agent sent later wins whenever a server received it; else the time', async () => {
    const store = await open();
    try {
      const at = (seq: number, time: string, boot = 'b1') => ({ host: 'h1', at: time, report: `{"seq":${seq}}`, order: { boot, seq } });
      await store.putHostReports([at(8, T1)]);
      await store.putHostReports([at(7, T2)]); // received late, by a server that was paused
      assert.deepEqual(await store.listHostReports(['h1']), [{ host: 'h1', at: T1, report: '{"seq":8}' }]);
      await store.putHostReports([at(9, T0)]); // a server whose clock is behind
      assert.deepEqual(await store.listHostReports(['h1']), [{ host: 'h1', at: T0, report: '{"seq":9}' }]);
      await store.putHostReports([at(1, T0, 'b2')]); // a new start, received no later: kept out
      await store.putHostReports([at(2, T1, 'b2'), at(1, T2, 'b2')]); // one batch: the later sent
      assert.deepEqual(await store.listHostReports(['h1']), [{ host: 'h1', at: T1, report: '{"seq":2}' }]);
      await store.putHostReports([{ host: 'h1', at: T0, report: '{"old":1}' }]); // an agent without order: the time
      await store.putHostReports([{ host: 'h1', at: T2, report: '{"old":2}' }]);
      assert.deepEqual(await store.listHostReports(['h1']), [{ host: 'h1', at: T2, report: '{"old":2}' }]);
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
