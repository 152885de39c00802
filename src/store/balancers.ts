/**
 * Load-balancer pools (issue 16): the pools users set (`noops lb set`), the drain marks the
 * rollout hooks write before a stop (every server reads them), and each pool's last report from
 * the agent that drives it. What they mean (which instances are members, which state each has)
 * is `balance/`; the store only keeps them. Migration 0020_balancers.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** A pool as stored: the wire's `BalancerView` (api/balancers-types.ts), unset keys as null. */
export interface BalancerRow {
  /** `noops lb set NAME` */
  name: string;
  /** the canonical selector whose instances are the members (`cop=acme,service=shop`) */
  selector: string;
  /** the host whose agent drives the balancer */
  host: string;
  /** `haproxy`, `nginx` or `keepalived` (the route checks it) */
  driver: string;
  socket: string | null;
  backend: string | null;
  file: string | null;
  vip: string | null;
  process: string | null;
  pidFile: string | null;
  /**
   * nginx: the control API (ADDR:PORT). Kept in the `socket` column, which only haproxy uses
   * otherwise (the runtime API's socket): both are how the agent talks to its balancer, and no
   * pool has both (the route refuses --socket for nginx), so no migration was needed.
   */
  api: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * A drain mark: the instances of `tag` (or beneath it) on `host`, of `version` (null: any), take
 * no new traffic in any pool until the mark is cleared or `until` (ISO) passes.
 */
export interface DrainRow {
  id: number;
  host: string;
  tag: string;
  version: string | null;
  until: string;
  reason: string;
  /** only the replicas numbered above this (`web@3` is 3; migration 0029): absent, every one */
  above?: number;
  /** only the process instances of these pids (a restart's; migration 0030): absent, every one */
  pids?: number[];
  /** only the instances of this process (`web` and its replicas: a restart of `--process web`; migration 0033): absent, every one */
  process?: string;
}

/** What `putDrain` takes: the store gives the id. */
export type NewDrain = Omit<DrainRow, 'id'>;

/** A pool's last report from the agent that drives it. */
export interface BalancerReportRow {
  name: string;
  /** the host whose agent sent it */
  host: string;
  /** the report (api's `BalancerReport`), as JSON text */
  report: string;
  /** when a server received it (ISO) */
  at: string;
}

/** The queries of this file, as the `Store` offers them. */
export interface BalancerQueries {
  /** adds or replaces a pool (a replaced one keeps its createdBy and createdAt); answers whether it was new */
  putBalancer(row: BalancerRow): Promise<{ created: boolean }>;
  getBalancer(name: string): Promise<BalancerRow | undefined>;
  /** by name */
  listBalancers(): Promise<BalancerRow[]>;
  /** deletes a pool and its report; answers whether it existed */
  deleteBalancer(name: string): Promise<boolean>;
  /** adds a drain mark, or moves the `until`, `reason` and `pids` of the one of the same host, tag, version, `above` and process; answers its id */
  putDrain(row: NewDrain): Promise<number>;
  /** deletes the marks of a host and tag: of one version (null: the any-version mark), or of every version when `version` is not given; with `above`, only the marks of those replicas; answers how many */
  clearDrains(which: { host: string; tag: string; version?: string | null; above?: number; process?: string }): Promise<number>;
  /** the marks still in force at `now` (ISO), by id */
  listDrains(now: string): Promise<DrainRow[]>;
  /** deletes the marks expired at `now` (ISO); answers how many */
  sweepDrains(now: string): Promise<number>;
  /**
   * keeps a pool's report unless the one stored is newer (`at`), or the pool does not exist
   * (a report racing `lb rm` leaves nothing behind); answers whether it was kept
   */
  putBalancerReport(name: string, host: string, report: string, at: string): Promise<boolean>;
  /** every pool's last report, by name */
  listBalancerReports(): Promise<BalancerReportRow[]>;
}

/** The pools table. */
export interface BalancersTable {
  name: string;
  selector: string;
  host: string;
  driver: string;
  socket: string | null;
  backend: string | null;
  file: string | null;
  vip: string | null;
  process: string | null;
  pid_file: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** The drain marks table. `version` is '' for a mark of every version (so that one unique index covers both). */
export interface BalancerDrainsTable {
  id: import('kysely').Generated<number>;
  host: string;
  tag: string;
  version: string;
  until: string;
  reason: string;
  /** 0: every replica (migration 0029_drain_replicas) */
  above: import('kysely').ColumnType<number, number | undefined, number>;
  /** the pids as a JSON array; null: every instance (migration 0030_drain_pids) */
  pids: import('kysely').ColumnType<string | null, string | null | undefined, string | null>;
  /** '': every process (migration 0033_drain_process) */
  process: import('kysely').ColumnType<string, string | undefined, string>;
}

/** The reports table: one row per pool. */
export interface BalancerReportsTable {
  name: string;
  host: string;
  report: string;
  at: string;
}

/** The stored `version` of a mark of every version. */
const ANY_VERSION = '';
/** The stored `above` of a mark of every replica. */
const EVERY_REPLICA = 0;
/** The stored `process` of a mark of every process. */
const EVERY_PROCESS = '';

/**
 * Migration 0033_drain_process: `balancer_drains.process`, so that a restart of one process
 * (`--process web`) drains only its instances, and two restarts of different processes on one
 * host hold a mark each; one mark per host, tag, version, `above` and process.
 */
export function drainProcessMigration(_backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('balancer_drains')
        .addColumn('process', 'text', (c) => c.notNull().defaultTo(EVERY_PROCESS))
        .execute();
      await db.schema.dropIndex('balancer_drains_host_tag_version_above').execute();
      await db.schema
        .createIndex('balancer_drains_host_tag_version_above_process')
        .on('balancer_drains')
        .columns(['host', 'tag', 'version', 'above', 'process'])
        .unique()
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('balancer_drains_host_tag_version_above_process').execute();
      await sql`delete from balancer_drains where process <> ${EVERY_PROCESS}`.execute(db); // they cannot be told apart without it
      await db.schema
        .createIndex('balancer_drains_host_tag_version_above')
        .on('balancer_drains')
        .columns(['host', 'tag', 'version', 'above'])
        .unique()
        .execute();
      await db.schema.alterTable('balancer_drains').dropColumn('process').execute();
    },
  };
}

/**
 * Migration 0029_drain_replicas: `balancer_drains.above`, so that a mark may cover only the
 * replicas above a count (the scheduler drains the replicas a lower count removes); one mark per
 * host, tag, version and `above`.
 */
export function drainReplicasMigration(_backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('balancer_drains')
        .addColumn('above', 'integer', (c) => c.notNull().defaultTo(EVERY_REPLICA))
        .execute();
      await db.schema.dropIndex('balancer_drains_host_tag_version').execute();
      await db.schema
        .createIndex('balancer_drains_host_tag_version_above')
        .on('balancer_drains')
        .columns(['host', 'tag', 'version', 'above'])
        .unique()
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('balancer_drains_host_tag_version_above').execute();
      await sql`delete from balancer_drains where above <> ${EVERY_REPLICA}`.execute(db); // they cannot be told apart without it
      await db.schema
        .createIndex('balancer_drains_host_tag_version')
        .on('balancer_drains')
        .columns(['host', 'tag', 'version'])
        .unique()
        .execute();
      await db.schema.alterTable('balancer_drains').dropColumn('above').execute();
    },
  };
}

/**
 * Migration 0030_drain_pids: `balancer_drains.pids`, so that a restart's mark covers only the
 * processes it stops and the new one joins the pools at its first healthy report.
 */
export function drainPidsMigration(_backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('balancer_drains').addColumn('pids', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('balancer_drains').dropColumn('pids').execute();
    },
  };
}

/** Migration 0020_balancers: the three tables. */
export function balancersMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  const id = (c: import('kysely').ColumnDefinitionBuilder) =>
    backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('balancers')
        .addColumn('name', text, (c) => c.primaryKey())
        .addColumn('selector', text, (c) => c.notNull())
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('driver', text, (c) => c.notNull())
        .addColumn('socket', text)
        .addColumn('backend', text)
        .addColumn('file', text)
        .addColumn('vip', text)
        .addColumn('process', text)
        .addColumn('pid_file', text)
        .addColumn('created_by', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .addColumn('updated_at', text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('balancer_drains')
        .addColumn('id', 'integer', id)
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('tag', text, (c) => c.notNull())
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('until', text, (c) => c.notNull())
        .addColumn('reason', text, (c) => c.notNull())
        .execute();
      // host first: it is also the index of a host's marks
      await db.schema
        .createIndex('balancer_drains_host_tag_version')
        .on('balancer_drains')
        .columns(['host', 'tag', 'version'])
        .unique()
        .execute();
      await db.schema
        .createTable('balancer_reports')
        .addColumn('name', text, (c) => c.primaryKey())
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('report', text, (c) => c.notNull())
        .addColumn('at', text, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('balancer_reports').ifExists().execute();
      await db.schema.dropTable('balancer_drains').ifExists().execute();
      await db.schema.dropTable('balancers').ifExists().execute();
    },
  };
}

/** The driver whose `socket` column holds its control API (BalancerRow.api). */
const API_IN_SOCKET = 'nginx';

function balancerFromDb(r: BalancersTable): BalancerRow {
  const apiHere = r.driver === API_IN_SOCKET;
  return {
    name: r.name,
    selector: r.selector,
    host: r.host,
    driver: r.driver,
    socket: apiHere ? null : r.socket,
    api: apiHere ? r.socket : null,
    backend: r.backend,
    file: r.file,
    vip: r.vip,
    process: r.process,
    pidFile: r.pid_file,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function drainFromDb(r: Omit<import('kysely').Selectable<BalancerDrainsTable>, 'id'> & { id: number }): DrainRow {
  return {
    id: Number(r.id),
    host: r.host,
    tag: r.tag,
    version: r.version === ANY_VERSION ? null : r.version,
    until: r.until,
    reason: r.reason,
    ...(r.above !== EVERY_REPLICA && { above: Number(r.above) }),
    ...(r.pids !== null && { pids: JSON.parse(r.pids) as number[] }),
    ...(r.process !== EVERY_PROCESS && { process: r.process }),
  };
}

/** The queries on one database (a transaction's included). */
export function balancerQueries(db: Kysely<Database>): BalancerQueries {
  return {
    async putBalancer(row) {
      const values: BalancersTable = {
        name: row.name,
        selector: row.selector,
        host: row.host,
        driver: row.driver,
        socket: row.driver === API_IN_SOCKET ? row.api : row.socket,
        backend: row.backend,
        file: row.file,
        vip: row.vip,
        process: row.process,
        pid_file: row.pidFile,
        created_by: row.createdBy,
        created_at: row.createdAt,
        updated_at: row.updatedAt,
      };
      const { name, created_by, created_at, ...changed } = values;
      // Insert-or-nothing, then update: correct when two servers set one pool at once.
      const inserted = await db
        .insertInto('balancers')
        .values(values)
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { created: true };
      await db.updateTable('balancers').set(changed).where('name', '=', name).execute();
      return { created: false };
    },
    async getBalancer(name) {
      const r = await db.selectFrom('balancers').selectAll().where('name', '=', name).executeTakeFirst();
      return r && balancerFromDb(r);
    },
    async listBalancers() {
      return (await db.selectFrom('balancers').selectAll().orderBy('name').execute()).map(balancerFromDb);
    },
    async deleteBalancer(name) {
      return db
        .transaction()
        .execute(async (trx) => {
          await trx.deleteFrom('balancer_reports').where('name', '=', name).execute();
          return trx.deleteFrom('balancers').where('name', '=', name).executeTakeFirst();
        })
        .then((r) => Number(r.numDeletedRows) > 0);
    },
    async putDrain(row) {
      const r = await db
        .insertInto('balancer_drains')
        .values({
          host: row.host,
          tag: row.tag,
          version: row.version ?? ANY_VERSION,
          until: row.until,
          reason: row.reason,
          above: row.above ?? EVERY_REPLICA,
          pids: row.pids === undefined ? null : JSON.stringify(row.pids),
          process: row.process ?? EVERY_PROCESS,
        })
        .onConflict((oc) =>
          oc.columns(['host', 'tag', 'version', 'above', 'process']).doUpdateSet({
            until: (eb) => eb.ref('excluded.until'),
            reason: (eb) => eb.ref('excluded.reason'),
            pids: (eb) => eb.ref('excluded.pids'),
          }),
        )
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(r.id);
    },
    async clearDrains(which) {
      let q = db.deleteFrom('balancer_drains').where('host', '=', which.host).where('tag', '=', which.tag);
      if (which.version !== undefined) q = q.where('version', '=', which.version ?? ANY_VERSION);
      if (which.above !== undefined) q = q.where('above', '=', which.above);
      if (which.process !== undefined) q = q.where('process', '=', which.process);
      return Number((await q.executeTakeFirst()).numDeletedRows);
    },
    async listDrains(now) {
      const rows = await db.selectFrom('balancer_drains').selectAll().where('until', '>', now).orderBy('id').execute();
      return rows.map(drainFromDb);
    },
    async sweepDrains(now) {
      return Number((await db.deleteFrom('balancer_drains').where('until', '<=', now).executeTakeFirst()).numDeletedRows);
    },
    async putBalancerReport(name, host, report, at) {
      // From the pool's row, so that a pool deleted meanwhile gets no report (one statement).
      const r = await db
        .insertInto('balancer_reports')
        .columns(['name', 'host', 'report', 'at'])
        .expression(
          db
            .selectFrom('balancers')
            .select([
              'name',
              sql<string>`cast(${host} as text)`.as('host'),
              sql<string>`cast(${report} as text)`.as('report'),
              sql<string>`cast(${at} as text)`.as('at'),
            ])
            .where('name', '=', name),
        )
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({
              host: (eb) => eb.ref('excluded.host'),
              report: (eb) => eb.ref('excluded.report'),
              at: (eb) => eb.ref('excluded.at'),
            })
            .whereRef('balancer_reports.at', '<=', 'excluded.at'),
        )
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async listBalancerReports() {
      return db.selectFrom('balancer_reports').select(['name', 'host', 'report', 'at']).orderBy('name').execute();
    },
  };
}
