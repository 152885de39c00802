/**
 * Replicas (issue 18): how many copies of a scheduled cluster's instance each host runs.
 * Migration 0028_replicas adds two columns:
 *
 * - `clusters.replicas` (JSON `{host: count}`, only the hosts with more than one; null: one on
 *   each of its `hosts`), written by the scheduler's loop beside the hosts (`putCluster` leaves it);
 * - `desired.replicas` (integer; null: one), resolved from it when an entry is written (the
 *   rollout's executor, the loop when a count changes on a host) and sent to the agent as
 *   `DesiredInstance.replicas`.
 *
 * A hand-placed cluster has no replicas: readers take `replicas` only from a cluster with a schedule.
 */
import type { Kysely, Migration } from 'kysely';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** The queries of this file, as the `Store` offers them (`store.replicas`), in its transaction if any. */
export interface ReplicaStore {
  /**
   * Sets a cluster's replicas per host (only counts above 1 are kept; none: null); answers false
   * when no such cluster.
   */
  setClusterReplicas(tag: string, replicas: Readonly<Record<string, number>> | null): Promise<boolean>;
}

/** Migration 0028_replicas: `clusters.replicas` (JSON), `desired.replicas` (integer). */
export function replicasMigration(_backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // JSON read whole, never compared or sorted: plain text on both backends
      await db.schema.alterTable('clusters').addColumn('replicas', 'text').execute();
      await db.schema.alterTable('desired').addColumn('replicas', 'integer').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('desired').dropColumn('replicas').execute();
      await db.schema.alterTable('clusters').dropColumn('replicas').execute();
    },
  };
}

/** Only the counts above 1, in host order: what is stored does not depend on the caller's order; null when none. */
export function replicasJson(replicas: Readonly<Record<string, number>> | null): string | null {
  if (replicas === null) return null;
  const hosts = Object.keys(replicas)
    .filter((h) => Number.isInteger(replicas[h]) && replicas[h]! > 1)
    .sort();
  return hosts.length === 0 ? null : JSON.stringify(Object.fromEntries(hosts.map((h) => [h, replicas[h]!])));
}

/** The optional field a cluster row gains: its replicas per host, present only when a host has more than one. */
export function clusterReplicasField(r: { replicas?: string | null }): { replicas?: Record<string, number> } {
  return r.replicas == null ? {} : { replicas: JSON.parse(r.replicas) as Record<string, number> };
}

/** The queries on one database (a transaction's included). */
export function replicaQueries(db: Kysely<Database>): ReplicaStore {
  return {
    async setClusterReplicas(tag, replicas) {
      const r = await db
        .updateTable('clusters')
        .set({ replicas: replicasJson(replicas) })
        .where('tag', '=', tag)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}
