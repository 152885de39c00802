/**
 * What the scheduler (issue 18) keeps on hosts and clusters: what each host offers (its agent's
 * last reported capacity), whether it is draining (`noops host drain`), and how a scheduled
 * cluster is placed (its spec: a count instead of hand-named hosts). Migration 0022_capacity
 * adds the three columns; `getHost`/`listHosts` and `getCluster`/`listClusters` read them
 * (`HostRow.capacity|draining`, `ClusterRow.schedule`), the methods here write them.
 *
 * A scheduled cluster's current placements are its `hosts` (written by the scheduler's loop with
 * `putCluster`, which leaves the spec as it is): everything that reads a cluster's hosts works
 * for both kinds. The shapes mirror the wire's (`HostCapacity`, `ScheduleSpec` in
 * api/schedule-types.ts); the store imports nothing but errors, so they are spelled out here.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { Backend } from './migrations.js';
import { type ScheduleLeaderStore, scheduleLeaderQueries } from './schedule-leader.js';
import type { Database } from './schema.js';

/** What a host offers, as its agent reported it (the wire's `HostCapacity`). */
export interface CapacityRow {
  /** cores */
  cpu: number;
  /** bytes */
  memory: number;
  /** bytes of the agent's data folder's file system */
  disk: number;
  /** free TCP ports in the agent's range for `port: auto` */
  freePorts: number;
}

/** A scheduled cluster's spec (the wire's `ScheduleSpec`). */
export interface ScheduleRow {
  count: number;
  cpu: number;
  memory: number;
  constraints: { label: string; op: '=' | '!='; value: string }[];
  distinctHosts: boolean;
  spread: string | null;
}

/**
 * The queries of this file, as the `Store` offers them (`store.schedule`), in its transaction if
 * any; with the leader's own (schedule-leader.ts: the migration budget's window, rebalance requests).
 */
export interface ScheduleStore extends ScheduleLeaderStore {
  /** records what a host offers (null: forgets it); answers false when no such host */
  setHostCapacity(host: string, capacity: CapacityRow | null): Promise<boolean>;
  /** what a host offers; undefined when it never reported it (or there is no such host) */
  getHostCapacity(host: string): Promise<CapacityRow | undefined>;
  /** every host that reported what it offers (one query: the server's cache of them) */
  listHostCapacities(): Promise<Map<string, CapacityRow>>;
  /** marks a host draining or not; answers false when no such host */
  setHostDraining(host: string, draining: boolean): Promise<boolean>;
  /**
   * Gives a cluster a spec (it is scheduled: the scheduler writes its hosts) or takes it away
   * (null: its hosts are named by hand); answers false when no such cluster. The cluster must exist
   * (`putCluster` first, in the same transaction for a new one).
   */
  setClusterSchedule(tag: string, schedule: ScheduleRow | null): Promise<boolean>;
  /**
   * In a transaction: the cluster's spec, its row locked until the transaction ends, so a change
   * read from it and written in the same transaction cannot lose a concurrent one (two take turns;
   * on PostgreSQL the second reads what the first committed). undefined: no such cluster; null:
   * its hosts are named by hand.
   */
  lockClusterSchedule(tag: string): Promise<ScheduleRow | null | undefined>;
}

/** Migration 0022_capacity: `hosts.capacity` (JSON), `hosts.draining` (0/1), `clusters.schedule` (JSON). */
export function capacityMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('hosts').addColumn('capacity', text).execute();
      await db.schema
        .alterTable('hosts')
        .addColumn('draining', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('clusters').addColumn('schedule', text).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('clusters').dropColumn('schedule').execute();
      await db.schema.alterTable('hosts').dropColumn('draining').execute();
      await db.schema.alterTable('hosts').dropColumn('capacity').execute();
    },
  };
}

/**
 * The optional fields a host row gains from its columns: present only when set (`capacity` once
 * reported, `draining` only when true), so a host the scheduler never touched reads as before.
 */
export function hostScheduleFields(r: { capacity: string | null; draining: number | boolean }): {
  capacity?: CapacityRow;
  draining?: true;
} {
  const out: { capacity?: CapacityRow; draining?: true } = {};
  if (r.capacity !== null) out.capacity = JSON.parse(r.capacity) as CapacityRow;
  if (Number(r.draining) === 1 || r.draining === true) out.draining = true;
  return out;
}

/** The optional field a cluster row gains: its spec, present only for a scheduled cluster. */
export function clusterScheduleField(r: { schedule: string | null }): { schedule?: ScheduleRow } {
  return r.schedule === null ? {} : { schedule: JSON.parse(r.schedule) as ScheduleRow };
}

/** Only the known fields, in one order: what is stored does not depend on what a caller spread in. */
function capacityJson(c: CapacityRow): string {
  return JSON.stringify({ cpu: c.cpu, memory: c.memory, disk: c.disk, freePorts: c.freePorts });
}

function scheduleJson(s: ScheduleRow): string {
  return JSON.stringify({
    count: s.count,
    cpu: s.cpu,
    memory: s.memory,
    constraints: s.constraints.map((c) => ({ label: c.label, op: c.op, value: c.value })),
    distinctHosts: s.distinctHosts,
    spread: s.spread,
  });
}

/** The queries on one database (a transaction's included). */
export function scheduleQueries(db: Kysely<Database>): ScheduleStore {
  return {
    ...scheduleLeaderQueries(db),
    async setHostCapacity(host, capacity) {
      const r = await db
        .updateTable('hosts')
        .set({ capacity: capacity === null ? null : capacityJson(capacity) })
        .where('name', '=', host)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async getHostCapacity(host) {
      const r = await db.selectFrom('hosts').select('capacity').where('name', '=', host).executeTakeFirst();
      return r?.capacity == null ? undefined : (JSON.parse(r.capacity) as CapacityRow);
    },
    async listHostCapacities() {
      const rows = await db.selectFrom('hosts').select(['name', 'capacity']).where('capacity', 'is not', null).execute();
      return new Map(rows.map((r) => [r.name, JSON.parse(r.capacity!) as CapacityRow]));
    },
    async setHostDraining(host, draining) {
      const r = await db
        .updateTable('hosts')
        .set({ draining: draining ? 1 : 0 })
        .where('name', '=', host)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async setClusterSchedule(tag, schedule) {
      const r = await db
        .updateTable('clusters')
        .set({ schedule: schedule === null ? null : scheduleJson(schedule) })
        .where('tag', '=', tag)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async lockClusterSchedule(tag) {
      // an update to itself takes the row's write lock on both backends (SQLite: the database's),
      // where `select ... for update` is PostgreSQL's only; `returning` reads the row as locked
      const r = await db
        .updateTable('clusters')
        .set((eb) => ({ schedule: eb.ref('schedule') }))
        .where('tag', '=', tag)
        .returning('schedule')
        .executeTakeFirst();
      if (r === undefined) return undefined;
      return clusterScheduleField(r).schedule ?? null;
    },
  };
}
