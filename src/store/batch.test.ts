/** Multi-row statements come in a few sizes: the rows kept in order, in-lists the same set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { BATCH_ROWS, chunks, inChunks, RowsStatement } from './batch.js';
import { openDatabase, openStore, parseStoreUrl } from './open.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('chunks: every row once, in order, in at most log2(size) + 2 distinct sizes over every count', () => {
  const sizes = new Set<number>();
  for (let n = 0; n <= 1200; n++) {
    const parts = chunks(range(n));
    assert.deepEqual(parts.flat(), range(n), `${n} rows`);
    for (const p of parts) {
      assert.ok(p.length > 0 && p.length <= BATCH_ROWS);
      sizes.add(p.length);
    }
  }
  assert.deepEqual(
    [...sizes].sort((a, b) => a - b),
    [1, 2, 4, 8, 16, 32, 64, 128, 256, BATCH_ROWS],
  );
  assert.deepEqual(chunks([1, 2, 3, 4, 5, 6, 7], 4), [[1, 2, 3, 4], [5, 6], [7]]);
});

test('inChunks: the same set, one part per size items, each part a power of two long or the size', () => {
  const sizes = new Set<number>();
  for (let n = 0; n <= 1200; n++) {
    const parts = inChunks(range(n));
    assert.equal(parts.length, Math.ceil(n / BATCH_ROWS), `${n} items`);
    assert.deepEqual([...new Set(parts.flat())], range(n));
    for (const p of parts) sizes.add(p.length);
  }
  assert.deepEqual(
    [...sizes].sort((a, b) => a - b),
    [1, 2, 4, 8, 16, 32, 64, 128, 256, BATCH_ROWS],
  );
  assert.deepEqual(inChunks(['a', 'b', 'c']), [['a', 'b', 'c', 'c']]);
});

test('the store prepares a few texts for many sizes of a batch read (SQLite)', async () => {
  const store = await openStore('sqlite::memory:');
  const texts = new Set<string>();
  const seen = (m: unknown) => {
    const { sql } = m as { sql: string };
    if (sql.includes('desired_generation')) texts.add(sql);
  };
  subscribe('noops:store:statement', seen);
  try {
    const hosts = range(300).map((i) => `h${i}`);
    for (let n = 1; n <= hosts.length; n++) assert.equal((await store.getDesiredMany(hosts.slice(0, n))).size, n);
    // 300 sizes asked, 1 to 300 hosts: 1, 2, 4 ... 256, 500 in-lists
    assert.ok(texts.size <= 10, `${texts.size} texts`);
  } finally {
    unsubscribe('noops:store:statement', seen);
    await store.close();
  }
});

type Report = { host: string; at: string; report: string };
const reports = (from: number, n: number): Report[] =>
  range(n).map((i) => ({ host: `h${from + i}`, at: `t${i}`, report: `{"n":${from + i}}` }));

test('a RowsStatement is built once per row count and dialect, and runs with each batch its own values', async () => {
  const { db, close } = await openDatabase(parseStoreUrl('sqlite::memory:'));
  try {
    let builds = 0;
    const insert = new RowsStatement(
      (d, rows) => {
        builds++;
        return d
          .insertInto('host_reports')
          .values(rows.map(([host, at, report]) => ({ host: host as string, at: at as string, report: report as string })))
          .compile();
      },
      (r: Report) => [r.host, r.at, r.report],
    );
    await insert.run(db, reports(0, 2));
    await insert.run(db, reports(2, 2));
    await db.transaction().execute((trx) => insert.run(trx, reports(4, 2))); // a transaction: the same dialect, the same statement
    await insert.run(db, reports(6, 3));
    assert.deepEqual(await insert.run(db, []), []);
    assert.equal(builds, 2, 'one build for 2 rows, one for 3');
    const stored = await db.selectFrom('host_reports').select(['host', 'at', 'report']).orderBy('host').execute();
    assert.deepEqual(
      stored,
      reports(0, 2)
        .concat(reports(2, 2), reports(4, 2), reports(6, 3))
        .sort((a, b) => (a.host < b.host ? -1 : 1)),
    );
  } finally {
    await close();
  }
});

test('a RowsStatement whose statement does not take the rows values in order is refused at its first build, and writes nothing', async () => {
  const { db, close } = await openDatabase(parseStoreUrl('sqlite::memory:'));
  try {
    const swapped = new RowsStatement(
      // the columns in another order than the values: kysely's parameters follow the columns
      (d, rows) =>
        d
          .insertInto('host_reports')
          .values(rows.map(([host, at, report]) => ({ report: report as string, host: host as string, at: at as string })))
          .compile(),
      (r: Report) => [r.host, r.at, r.report],
    );
    await assert.rejects(swapped.run(db, reports(0, 2)), /parameters are not the rows' values in order/);
    const uneven = new RowsStatement(
      (d, rows) =>
        d
          .insertInto('host_reports')
          .values(rows.map(([host]) => ({ host: host as string, at: 'a', report: 'r' })))
          .compile(),
      (r: Report) => (r.host === 'h0' ? [r.host] : [r.host, r.at]),
    );
    await assert.rejects(uneven.run(db, reports(0, 2)), /every row gives as many values/);
    assert.deepEqual(await db.selectFrom('host_reports').selectAll().execute(), []);
  } finally {
    await close();
  }
});
