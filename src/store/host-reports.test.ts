/**
 * Stored host reports on both backends: SQLite in memory, and PostgreSQL when NOOPS_TEST_PG_URL
 * is set (a fresh `noops_hr_<random>` database, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from './open.js';
import type { Store } from './index.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const dbName = `noops_hr_${randomBytes(5).toString('hex')}`;

async function admin(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

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

describe('host reports on postgres', { skip: PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it' }, () => {
  let created = false;
  const url = (): string => {
    const u = new URL(PG_URL!);
    u.pathname = `/${dbName}`;
    return u.toString();
  };
  after(async () => {
    if (created)
      await admin(`drop database if exists ${dbName} with (force)`).catch((err: Error) =>
        process.emitWarning(`could not drop ${dbName}: ${err.message}`),
      );
  });
  behaves(async () => {
    if (!created) {
      await admin(`create database ${dbName}`);
      created = true;
    }
    const store = await openStore(url());
    // each test starts empty: the database is shared by this file's tests
    await store.listHostReports().then((rows) => Promise.all(rows.map((r) => store.deleteHost(r.host))));
    return store;
  });
});
