/**
 * Heartbeats: the store's hot path. 10,000 agents beating every 5 s is 2,000 beats a second,
 * which the server batches and writes here.
 */
import { sql, type Kysely } from 'kysely';
import { chunks, RowsStatement } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** A beat moves its host's time forward, never back. */
const forward = sql`hosts.name = beat.name and (hosts.last_heartbeat is null or hosts.last_heartbeat < beat.at)`;

/** SQLite's update of a batch of heartbeats, built once per count of rows (batch.ts). */
const touchBatch = new RowsStatement(
  (db, rows) =>
    sql`
      with beat(name, at) as (values ${sql.join(rows.map(([name, at]) => sql`(${name}, ${at})`))})
      update hosts set last_heartbeat = beat.at
      from beat
      where ${forward}`.compile(db),
  (beat: readonly [string, string]) => beat, // the sorted entries are the rows' values already
);

/**
 * Records many hosts' heartbeats with a batched `UPDATE ... FROM`, never one statement per
 * host. Unknown hosts are ignored, a host's time only moves forward (two servers may write
 * beats out of order), and a name given twice keeps its latest time.
 *
 * Measured on 10,000 hosts (2 cores): SQLite about 40 ms; PostgreSQL about 80 ms with unnest(),
 * against 150 to 250 ms for the portable VALUES form, hence the one dialect branch here.
 */
export async function touchHosts(db: Kysely<Database>, backend: Backend, beats: readonly { name: string; at: string }[]): Promise<void> {
  const latest = new Map<string, string>();
  for (const b of beats) {
    const seen = latest.get(b.name);
    if (seen === undefined || seen < b.at) latest.set(b.name, b.at);
  }
  if (latest.size === 0) return;
  // Sorted so that two servers touching overlapping hosts lock rows in the same order.
  const sorted = [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  if (backend === 'postgres') {
    // Two array parameters, whatever the batch size: one statement, atomic by itself.
    const names = sorted.map(([name]) => name);
    const ats = sorted.map(([, at]) => at);
    await sql`
      update hosts set last_heartbeat = beat.at
      from unnest(${names}::text[], ${ats}::text[]) as beat(name, at)
      where ${forward}`.execute(db);
    return;
  }

  // SQLite has no arrays: VALUES in chunks (parameter limit), all in one transaction. A CTE
  // names the columns, because SQLite cannot alias the columns of a VALUES in FROM.
  await db.transaction().execute(async (trx) => {
    for (const batch of chunks(sorted)) await touchBatch.run(trx, batch);
  });
}
