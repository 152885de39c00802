/**
 * Every metric series' id in the store (0024_series_ids), on both backends: SQLite (a file in a
 * temp folder: its rowid) and PostgreSQL when NOOPS_TEST_PG_URL is set (its identity column). The
 * feed's points carry their series' id; it stays the same across upserts (newer, older and equal
 * points), a reopen (a server's restart) and a second store writing at once; upserts burn no
 * number, so ids are 1..n; series stored before the migration get ids by it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { MetricPointRow, MetricSeriesRow, Store } from './index.js';
import { migrationProvider, type Backend } from './migrations.js';
import { openStore, parseStoreUrl } from './open.js';
import type { Database } from './schema.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-series-ids-'));
const dbs: TestDatabase[] = [];
after(async () => {
  for (const db of dbs) await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const row = (key: string, ts: number, value = ts): MetricSeriesRow => ({
  key,
  endpoint: key.split('/')[0]!,
  metric: key.split('/')[1]!,
  tags: 'app=web',
  counterType: 'GAUGE',
  step: 60,
  lastTs: ts,
  lastValue: value,
  lastReceived: 1000,
});
const point = (key: string, ts: number, value = ts): MetricPointRow => ({ key, ts, value, graphValue: value, receivedAt: 1000 });

/** Stores one point of each key at `ts`. */
async function put(store: Store, keys: readonly string[], ts: number): Promise<void> {
  await store.putMetrics(
    keys.map((k) => row(k, ts)),
    keys.map((k) => point(k, ts)),
  );
}

/** Each series' id as the feed gives it with the points stored after point id `after` (every point of a series agreeing). */
async function idsRead(store: Store, after = 0): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const p of await store.readMetricPoints(after, [], 100_000)) {
    assert.equal(typeof p.seriesId, 'number', `point ${p.id} of ${p.key} has its series id`);
    const known = ids.get(p.key);
    if (known !== undefined) assert.equal(p.seriesId, known, `every point of ${p.key} has one id`);
    ids.set(p.key, p.seriesId!);
  }
  return ids;
}

const sorted = (ids: Iterable<number>): number[] => [...ids].sort((a, b) => a - b);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** A raw kysely on `url`, migrated up to `to`: a database as an older noops left it. */
async function migratedTo(url: string, backend: Backend, to: string): Promise<Kysely<Database>> {
  const target = parseStoreUrl(url);
  const db =
    target.backend === 'sqlite'
      ? new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(target.path) }) })
      : new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  const done = await new Migrator({ db, provider: migrationProvider(backend) }).migrateTo(to);
  assert.equal(done.error, undefined);
  return db;
}

function behaves(backend: Backend, freshUrl: () => Promise<string>): void {
  it('each series has one id, given with its points, the same across upserts and a reopen; upserts burn none (ids 1..n)', async () => {
    const url = await freshUrl();
    const keys = ['h2/cpu', 'h1/cpu', 'h1/mem'];
    let store = await openStore(url);
    let ids: Map<string, number>;
    try {
      await put(store, keys, 60);
      ids = await idsRead(store);
      assert.deepEqual(sorted(ids.values()), range(3));
      // newer points, an older one (the row keeps its newest), an equal one
      for (let ts = 120; ts <= 1800; ts += 60) await put(store, keys, ts);
      await put(store, keys, 90);
      await put(store, keys, 1800);
      assert.deepEqual(await idsRead(store), ids);
      // a new series among known ones gets the next number: the upserts of the known ones took none
      await put(store, [...keys, 'h3/cpu'], 1860);
      const four = await idsRead(store);
      assert.equal(four.get('h3/cpu'), 4);
      for (const k of keys) assert.equal(four.get(k), ids.get(k));
      assert.deepEqual(
        (await store.listMetricSeries()).map((s) => [s.key, s.lastTs]),
        [
          ['h1/cpu', 1860],
          ['h1/mem', 1860],
          ['h2/cpu', 1860],
          ['h3/cpu', 1860],
        ],
      );
    } finally {
      await store.close();
    }
    // a server's restart: the ids are the store's, read back as they were
    store = await openStore(url);
    try {
      const last = await store.lastMetricPointId();
      await put(store, [...keys, 'h3/cpu', 'h4/cpu'], 1920);
      const again = await idsRead(store, last);
      for (const k of keys) assert.equal(again.get(k), ids.get(k));
      assert.equal(again.get('h3/cpu'), 4);
      assert.equal(again.get('h4/cpu'), 5);
    } finally {
      await store.close();
    }
  });

  it('two stores writing the same new series at once: one id per series, the same in both', async () => {
    const url = await freshUrl();
    const a = await openStore(url);
    const b = await openStore(url);
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `h${i}/cpu`);
      for (let round = 1; round <= 5; round++) {
        const ts = 60 * round;
        // overlapping batches from two servers, new series in the first round
        await Promise.all([put(a, keys.slice(0, 150), ts), put(b, keys.slice(50), ts)]);
      }
      const fromA = await idsRead(a);
      assert.deepEqual(await idsRead(b), fromA);
      assert.equal(fromA.size, 200);
      assert.equal(new Set(fromA.values()).size, 200, 'no two series share an id');
      // a race may lose a number (both servers asked the sequence for one new series), never more than one per series
      assert.ok(Math.max(...fromA.values()) <= 400, `ids stay dense: max ${Math.max(...fromA.values())}`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('series stored before 0024_series_ids get ids by it, which their points then carry', async () => {
    const url = await freshUrl();
    const old = await migratedTo(url, backend, '0023_placements');
    try {
      for (const k of ['old/a', 'old/b', 'old/c'])
        await old
          .insertInto('metric_series')
          .values({
            key: k,
            endpoint: 'old',
            metric: k.slice(4),
            tags: '',
            counter_type: 'GAUGE',
            step: 60,
            last_ts: 60,
            last_value: 1,
            last_received: 0,
          })
          .execute();
      await old.insertInto('metric_points').values({ key: 'old/a', ts: 60, value: 1, graph_value: 1, received_at: 0 }).execute();
    } finally {
      await old.destroy();
    }
    const store = await openStore(url);
    try {
      await put(store, ['old/b', 'old/c', 'new/a'], 120);
      const ids = await idsRead(store);
      assert.deepEqual(sorted(ids.values()), range(4));
      assert.equal(ids.get('new/a'), 4, 'a new series after the numbered ones');
    } finally {
      await store.close();
    }
  });
}

describe('series ids on sqlite', () => {
  let n = 0;
  behaves('sqlite', async () => `sqlite:${join(dir, `s${n++}.db`)}`);
});

describe('series ids on postgres', { skip: NEEDS_PG }, () => {
  behaves('postgres', async () => {
    const db = await testDatabase('noops_sids');
    dbs.push(db);
    return db.url;
  });
});
