/**
 * Each host's last report, as the server that heard it stored it (issue 14): several servers on
 * one database each hear some of the agents, and the others read what they heard from here. A
 * server writes a host's report only when something the others act on changed (its processes,
 * failures, trust or runtimes), batched with the instance rows, and then names the host on the
 * change bus; the others read the named hosts' reports back in one query.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { laterReport } from '../api/index.js';
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
  /** its agent's start (AgentReport.order.boot), when the report has an order (0035) */
  boot: string | null;
  /** its place among the reports of that start (AgentReport.order.seq) (0035) */
  seq: number | null;
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
 * Migration 0035_host_report_order: each stored report's place among its agent's reports. A
 * server paused (SIGSTOP, a long collection) reads a request that waited in its socket when it
 * resumes and receives it then: its `at` is newer than the reports the agent sent since to
 * another server, and by `at` alone it replaced them, for good when nothing changed after.
 */
export function hostReportOrderMigration(_backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('host_reports').addColumn('boot', 'text').execute();
      await db.schema.alterTable('host_reports').addColumn('seq', 'integer').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('host_reports').dropColumn('seq').execute();
      await db.schema.alterTable('host_reports').dropColumn('boot').execute();
    },
  };
}

/**
 * Stores many hosts' reports in one transaction (a few statements for a whole deploy batch). A
 * host's stored report is replaced only by a later one (`laterReport`, in SQL too): two servers
 * may write one host's reports out of order when its agent moved between them.
 */
export async function putHostReports(db: Kysely<Database>, reports: readonly StoredHostReport[]): Promise<void> {
  if (reports.length === 0) return;
  // Hosts in name order: two servers writing overlapping hosts lock rows in the same order.
  const latest = new Map<string, StoredHostReport>();
  for (const r of reports) {
    const seen = latest.get(r.host);
    if (seen === undefined || laterReport(r, seen)) latest.set(r.host, r);
  }
  const sorted = [...latest.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  await db.transaction().execute(async (trx) => {
    for (const batch of chunks(sorted)) await upsertReports.run(trx, batch);
  });
}

/** Hosts' reports, each replacing an earlier one (`laterReport`): built once per count of rows (batch.ts). */
const upsertReports = new RowsStatement(
  (db, rows) =>
    db
      .insertInto('host_reports')
      .values(
        rows.map(([host, at, report, boot, seq]) => ({
          host: host as string,
          at: at as string,
          report: report as string,
          boot: boot as string | null,
          seq: seq as number | null,
        })),
      )
      .onConflict((oc) =>
        oc
          .column('host')
          .doUpdateSet({
            at: (eb) => eb.ref('excluded.at'),
            report: (eb) => eb.ref('excluded.report'),
            boot: (eb) => eb.ref('excluded.boot'),
            seq: (eb) => eb.ref('excluded.seq'),
          })
          // laterReport: a null on either side makes the first test null, and CASE takes `at`
          .where(
            sql<boolean>`case when host_reports.boot = excluded.boot and host_reports.seq is not null and excluded.seq is not null then host_reports.seq < excluded.seq else host_reports.at < excluded.at end`,
          ),
      )
      .compile(),
  (r: StoredHostReport) => [r.host, r.at, r.report, r.order?.boot ?? null, r.order?.seq ?? null],
);

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
