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

function behaves(open: () => Promise<Store>, kind: 'sqlite' | 'postgres'): void {
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

  it('of one agent start, the report the agent sent later wins whenever a server received it; else the time; the hosts taken are answered', async () => {
    const store = await open();
    try {
      const report = (seq: number, boot = 'b1') => JSON.stringify({ processes: [], order: { boot, seq } });
      const at = (seq: number, time: string, boot = 'b1') => ({ host: 'h1', at: time, report: report(seq, boot), order: { boot, seq } });
      const stored = async () => (await store.listHostReports(['h1'])).map((r) => [r.at, r.report]);
      assert.deepEqual(await store.putHostReports([at(8, T1)]), ['h1']);
      assert.deepEqual(await store.putHostReports([at(7, T2)]), [], 'received late, by a server that was paused: not taken');
      assert.deepEqual(await stored(), [[T1, report(8)]]);
      assert.deepEqual(await store.putHostReports([at(9, T0)]), ['h1'], 'a server whose clock is behind');
      assert.deepEqual(await stored(), [[T0, report(9)]]);
      assert.deepEqual(await store.putHostReports([at(1, T0, 'b2')]), [], 'a new start, received no later: kept out');
      assert.deepEqual(await store.putHostReports([at(2, T1, 'b2'), at(1, T2, 'b2')]), ['h1'], 'one batch: the later sent');
      assert.deepEqual(await stored(), [[T1, report(2, 'b2')]]);
      // a seq past 2^31 compares as a number (PostgreSQL: numeric), not as text
      assert.deepEqual(await store.putHostReports([at(2 ** 40, T0, 'b2')]), ['h1']);
      assert.deepEqual(await store.putHostReports([at(10, T2, 'b2')]), []);
      // without an order on either side (an agent of before `order`), the time decides
      assert.deepEqual(await store.putHostReports([{ host: 'h1', at: T0, report: '{"old":1}' }]), []);
      assert.deepEqual(await store.putHostReports([{ host: 'h1', at: T2, report: '{"old":2}' }]), ['h1']);
      assert.deepEqual(await stored(), [[T2, '{"old":2}']]);
      assert.deepEqual(await store.putHostReports([{ host: 'h2', at: T0, report: '{}' }]), ['h2'], 'a first report is taken');
      // a NUL in a stored report (PostgreSQL reads no value of such a document): the time decides, no write fails
      const withNul = (seq: number) => JSON.stringify({ error: 'a\u0000b', order: { boot: 'b3', seq } });
      assert.deepEqual(await store.putHostReports([{ host: 'h3', at: T1, report: withNul(5), order: { boot: 'b3', seq: 5 } }]), ['h3']);
      // SQLite reads the order all the same (an earlier seq: not taken); PostgreSQL compares the times (later: taken)
      assert.deepEqual(
        await store.putHostReports([{ host: 'h3', at: T2, report: report(4, 'b3'), order: { boot: 'b3', seq: 4 } }]),
        kind === 'sqlite' ? [] : ['h3'],
      );
      assert.deepEqual(
        await store.putHostReports([{ host: 'h3', at: T0, report: withNul(9), order: { boot: 'b3', seq: 9 } }]),
        kind === 'sqlite' ? ['h3'] : [],
      );
      // a lone surrogate (JSON.stringify escapes it: PostgreSQL cannot read that document's values either)
      const lone = JSON.stringify({ error: 'a\ud800b', order: { boot: 'b4', seq: 5 } });
      assert.deepEqual(await store.putHostReports([{ host: 'h4', at: T1, report: lone, order: { boot: 'b4', seq: 5 } }]), ['h4']);
      assert.deepEqual(
        await store.putHostReports([{ host: 'h4', at: T2, report: report(4, 'b4'), order: { boot: 'b4', seq: 4 } }]),
        kind === 'sqlite' ? [] : ['h4'],
      );
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

describe('host reports on sqlite', () => behaves(() => openStore('sqlite::memory:'), 'sqlite'));

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
  }, 'postgres');
});
