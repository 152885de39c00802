/**
 * Each host's last report, as the server that heard it stored it (issue 14): several servers on
 * one database each hear some of the agents, and the others read what they heard from here. A
 * server writes a host's report only when something the others act on changed (its processes,
 * failures, trust or runtimes), batched with the instance rows, and then names the host on the
 * change bus; the others read the named hosts' reports back in one query.
 */
import { sql, type Kysely, type Migration, type RawBuilder } from 'kysely';
import { laterReport } from './report-order.js';
import { chunks, inChunks, RowsStatement } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';
import type { StoredHostReport } from './types.js';

/** The table: one row per host, its last report (JSON) and when a server received it (ISO). */
export interface HostReportsTable {
  host: string;
  /** when the server that heard it received it; a newer one replaces it, an older one never does */
  at: string;
  /** the report, as JSON text */
  report: string;
}

/**
 * Migration 0014_host_reports: the table. No foreign key to `hosts` (SQLite's are off, as for
 * `instances`): `deleteHost` deletes the host's row with the rest.
 */
export function hostReportsMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('host_reports')
        .addColumn('host', text, (c) => c.primaryKey())
        .addColumn('at', text, (c) => c.notNull())
        .addColumn('report', text, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('host_reports').ifExists().execute();
    },
  };
}

/**
 * Stores many hosts' reports in one transaction (a few statements for a whole deploy batch); answers
 * the hosts whose report was taken. A host's stored report is replaced only by a later one
 * (`laterReport`, in SQL on the reports' own `order`): two servers may write one host's reports out
 * of order when its agent moved between them, and a server paused (SIGSTOP, a long collection)
 * receives a request that waited in its socket when it resumes, with a time newer than the reports
 * the agent sent since to another server: by the time alone it replaced them, for good when nothing
 * changed after. The order is read from the JSON (no column of its own): what any server wrote,
 * before this rule too, is compared alike.
 */
export async function putHostReports(db: Kysely<Database>, backend: Backend, reports: readonly StoredHostReport[]): Promise<string[]> {
  if (reports.length === 0) return [];
  // Hosts in name order: two servers writing overlapping hosts lock rows in the same order.
  const latest = new Map<string, StoredHostReport>();
  for (const r of reports) {
    const seen = latest.get(r.host);
    if (seen === undefined || laterReport(r, seen)) latest.set(r.host, r);
  }
  const sorted = [...latest.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const statement = backend === 'postgres' ? upsertReportsPg : upsertReportsSqlite;
  const taken: string[] = [];
  await db.transaction().execute(async (trx) => {
    for (const batch of chunks(sorted)) for (const row of await statement.run(trx, batch)) taken.push(row.host);
  });
  return taken;
}

/**
 * `laterReport` in SQL, over the stored report (`host_reports`) and the one offered (`excluded`):
 * `path(side, key)` reads `order.key` of a side's JSON. A missing order (or boot) on either side
 * makes the second test null, and CASE takes the time. `unreadable`: a test, evaluated first
 * (CASE evaluates its branches in order), for a JSON the database cannot read a value of.
 */
function laterInSql(path: (side: 'host_reports' | 'excluded', key: 'boot' | 'seq') => string, unreadable = 'false'): RawBuilder<boolean> {
  const [b0, b1, s0, s1] = [path('host_reports', 'boot'), path('excluded', 'boot'), path('host_reports', 'seq'), path('excluded', 'seq')];
  return sql<boolean>`case when ${sql.raw(unreadable)} then host_reports.at < excluded.at when ${sql.raw(b0)} = ${sql.raw(b1)} and ${sql.raw(s0)} is not null and ${sql.raw(s1)} is not null then ${sql.raw(s0)} < ${sql.raw(s1)} else host_reports.at < excluded.at end`;
}

/** Hosts' reports, each replacing an earlier one (`laterInSql`), answering the hosts taken: built once per count of rows (batch.ts). */
function upsertReports(later: RawBuilder<boolean>): RowsStatement<StoredHostReport, { host: string }> {
  return new RowsStatement(
    (db, rows) =>
      db
        .insertInto('host_reports')
        .values(rows.map(([host, at, report]) => ({ host: host as string, at: at as string, report: report as string })))
        .onConflict((oc) =>
          oc
            .column('host')
            .doUpdateSet({ at: (eb) => eb.ref('excluded.at'), report: (eb) => eb.ref('excluded.report') })
            .where(later),
        )
        .returning('host')
        .compile(),
    (r: StoredHostReport) => [r.host, r.at, r.report],
  );
}

// numeric: a seq of any size compares as a number. `#>>` refuses a document with `\u0000` or a
// lone surrogate (`\ud800`: JSON.stringify escapes only lone ones) in any of its strings (the
// report route lets no NUL in since, but one stored before would fail every later write of its
// host): such a pair compares by time.
const upsertReportsPg = upsertReports(
  laterInSql(
    (side, key) => (key === 'seq' ? `(${side}.report::json #>> '{order,seq}')::numeric` : `(${side}.report::json #>> '{order,boot}')`),
    String.raw`host_reports.report ~ '\\u(0000|[dD][89a-fA-F])' or excluded.report ~ '\\u(0000|[dD][89a-fA-F])'`,
  ),
);
const upsertReportsSqlite = upsertReports(laterInSql((side, key) => `json_extract(${side}.report, '$.order.${key}')`));

/**
 * The stored reports of `hosts` (every host's when not given), in no particular order; a host
 * without one is left out. PostgreSQL: one statement whatever the count (an array parameter);
 * SQLite: one per BATCH_ROWS hosts.
 */
export async function listHostReports(db: Kysely<Database>, backend: Backend, hosts?: readonly string[]): Promise<StoredHostReport[]> {
  const all = db.selectFrom('host_reports').select(['host', 'at', 'report']);
  if (hosts === undefined) return all.execute();
  if (hosts.length === 0) return [];
  if (backend === 'postgres') return all.where(sql<boolean>`host = any(${[...hosts]}::text[])`).execute();
  const out: StoredHostReport[] = [];
  for (const batch of inChunks(hosts)) out.push(...(await all.where('host', 'in', batch).execute()));
  return out;
}
