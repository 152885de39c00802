/**
 * A deployment's per-host progress, one row per host (issue 19): written as hosts change, so a
 * round of the rollout controller writes the hosts whose state moved, not the whole deployment.
 * The deployment's `progress` column keeps the rest (the plan, the phase, the log); its
 * `host_results` column keeps the results written when it started. Reading a deployment merges
 * the rows back in: a host's row wins over what the columns say of it (a deployment written
 * before 0026 kept every host in them).
 */
import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import { chunks, inChunks, RowsStatement } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';
import type { DeploymentHostChange, DeploymentRow } from './types.js';

/** The table: one row per (deployment, host) that has left its first state. */
export function deploymentHostsMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('deployment_hosts')
        .addColumn('deployment_id', 'integer', (c) => c.notNull())
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('progress', text, (c) => c.notNull())
        .addColumn('result', text, (c) => c.notNull())
        .addPrimaryKeyConstraint('deployment_hosts_pk', ['deployment_id', 'host'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('deployment_hosts').execute();
    },
  };
}

/** Writes (replaces) the rows of the hosts that changed, in multi-row statements. */
export async function writeDeploymentHosts(db: Kysely<Database>, id: number, changes: readonly DeploymentHostChange[]): Promise<void> {
  // the last change of a host wins, as it would in a loop of single writes
  const latest = new Map(changes.map((c) => [c.host, c]));
  for (const batch of chunks([...latest.values()]))
    await upsertHosts.run(
      db,
      batch.map((c) => ({ id, change: c })),
    );
}

/** A deployment's hosts' rows, replaced: built once per count of rows (batch.ts). */
const upsertHosts = new RowsStatement(
  (db, rows) =>
    db
      .insertInto('deployment_hosts')
      .values(
        rows.map(([deployment_id, host, progress, result]) => ({
          deployment_id: deployment_id as number,
          host: host as string,
          progress: progress as string,
          result: result as string,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['deployment_id', 'host'])
          .doUpdateSet((eb) => ({ progress: eb.ref('excluded.progress'), result: eb.ref('excluded.result') })),
      )
      .compile(),
  ({ id, change }: { id: number; change: DeploymentHostChange }) => [id, change.host, JSON.stringify(change.progress), change.result],
);

/**
 * The deployments with their hosts' rows merged in: `progress.hosts[host]` and
 * `hostResults[host]` from each row (one query for all of them).
 */
export async function withDeploymentHosts(db: Kysely<Database>, rows: DeploymentRow[]): Promise<DeploymentRow[]> {
  if (rows.length === 0) return rows;
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const ids of inChunks([...byId.keys()])) {
    const found = await db.selectFrom('deployment_hosts').selectAll().where('deployment_id', 'in', ids).execute();
    for (const h of found) {
      const d = byId.get(Number(h.deployment_id));
      if (!d) continue;
      const hosts = (d.progress.hosts ??= {}) as Record<string, unknown>;
      hosts[h.host] = JSON.parse(h.progress) as unknown;
      d.hostResults[h.host] = h.result;
    }
  }
  return rows;
}
