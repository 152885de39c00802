/**
 * Every metric series' number in the store (migration 0024_series_ids), which the judge's feed
 * gives with each point (`StoredMetricPoint.seriesId`) so that the judge finds the series by an
 * array read instead of hashing its key (docs/benchmarks.md, "Judge").
 *
 * SQLite already has one: `metric_series`' rowid, which its upserts keep (noops never VACUUMs
 * nor deletes a series, the two ways SQLite renumbers rowids); the migration does nothing there.
 * PostgreSQL gets `metric_series.id`, a `bigint generated always as identity` column: existing
 * rows are numbered by the migration, a new series on its first insert, and nothing changes it.
 *
 * A sequence gives a number to every row an `insert ... on conflict` proposes, also to one that
 * then conflicts and updates: the ingestion's upsert of every series in every batch would burn
 * one number per point, and the ids would soon be too sparse for the judge's array (and pass
 * 2^31 in about two weeks at 1,700 points/s). So the PostgreSQL upsert takes the id a series
 * already has and asks the sequence only for a series not stored yet (`upsertSeriesPg`): ids go
 * 1, 2, 3, ... one per series. A number is lost only when two servers insert one new series at
 * the same moment, or a batch that inserted new series is rolled back (and up to 32 when the
 * database server crashes, which pre-logs its sequences). The judge indexes its arrays by the id
 * while it is below 16 × its series + 65,536 (judge.ts, STORE_IDS_PER_SERIES), which ids that
 * dense always are; a point of a series whose id is past that goes by key (a Map lookup: correct,
 * slower). The column is bigint, so the sequence never runs out.
 */
import { sql, type Kysely, type Migration, type RawBuilder, type Transaction } from 'kysely';
import type { MetricSeriesRow } from './metrics.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** The sequence behind PostgreSQL's `metric_series.id`, named by the migration (the upsert asks it by name). */
const SEQUENCE = 'metric_series_id_seq';

/** Migration 0024_series_ids: PostgreSQL's `metric_series.id`; nothing on SQLite (its rowid is the id). */
export function seriesIdsMigration(backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (backend === 'sqlite') return;
      // numbers every existing row (the table is rewritten once)
      await sql`alter table metric_series add column id bigint generated always as identity (sequence name ${sql.raw(SEQUENCE)})`.execute(
        db,
      );
    },
    async down(db: Kysely<unknown>) {
      if (backend === 'sqlite') return;
      await sql`alter table metric_series drop column id`.execute(db);
    },
  };
}

/** The series id of a point read with its series (`s`: metric_series) on each backend. */
export function seriesIdColumn(backend: Backend): RawBuilder<number | string> {
  return backend === 'sqlite' ? sql<number>`s.rowid` : sql<string>`s.id`;
}

/** A series id as the driver gives it (PostgreSQL's bigint as a string), as a number; none for a missing one. */
export function seriesIdFromDb(v: number | string | null | undefined): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * Upserts series rows on PostgreSQL in the order given (callers sort by key: two servers lock
 * overlapping series in one order), a series' last point only moving forward, its id kept. The
 * rows travel as nine arrays (`unnest`): nine parameters whatever the batch's size.
 */
export async function upsertSeriesPg(trx: Transaction<Database>, rows: readonly MetricSeriesRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: MetricSeriesRow) => T): T[] => rows.map(f);
  // `collate "C"`: the key's column and index compare bytes; unnest's text has the database's collation.
  // coalesce asks the sequence only when no row has the key (it evaluates its arguments in turn).
  await sql`
    insert into metric_series (id, key, endpoint, metric, tags, counter_type, step, last_ts, last_value, last_received)
    overriding system value
    select coalesce((select s.id from metric_series s where s.key = v.key collate "C"), nextval(${sql.lit(SEQUENCE)})),
           v.key, v.endpoint, v.metric, v.tags, v.counter_type, v.step, v.last_ts, v.last_value, v.last_received
    from unnest(${col((r) => r.key)}::text[], ${col((r) => r.endpoint)}::text[], ${col((r) => r.metric)}::text[],
                ${col((r) => r.tags)}::text[], ${col((r) => r.counterType)}::text[], ${col((r) => r.step)}::integer[],
                ${col((r) => r.lastTs)}::bigint[], ${col((r) => r.lastValue)}::double precision[], ${col((r) => r.lastReceived)}::bigint[])
      with ordinality as v(key, endpoint, metric, tags, counter_type, step, last_ts, last_value, last_received, n)
    order by v.n
    on conflict (key) do update set step = excluded.step, counter_type = excluded.counter_type, last_ts = excluded.last_ts,
      last_value = excluded.last_value, last_received = excluded.last_received
    where metric_series.last_ts <= excluded.last_ts`.execute(trx);
}
