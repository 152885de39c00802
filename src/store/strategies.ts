/**
 * Strategies bound to the service tree, nodata rules and maintenance windows (issue 15): the
 * rows and their queries. What they mean (which points a strategy applies to, which one of two
 * wins) is `monitor/strategies/`; the store only keeps them. Migration 0017_strategies.
 */
import { sql, type Generated, type Kysely, type Migration } from 'kysely';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** A strategy bound to one node of the tree (Falcon's strategy row, plus the node and `off`). */
export interface StrategyRow {
  id: number;
  /** canonical tag of the node it is bound to */
  node: string;
  metric: string;
  /** Falcon's sorted `k=v,k=v` (api/falcon.ts falconTagString); '' for none */
  tags: string;
  /** `all(#3)`, ... */
  func: string;
  /** `==`, `=`, `!=`, `<`, `<=`, `>`, `>=` */
  op: string;
  right: number;
  maxStep: number;
  /** Falcon's P0-P6: 0 is the highest */
  priority: number;
  note: string;
  /** the run window `HH:MM` (server's local time), both null: always */
  runFrom: string | null;
  runTo: string | null;
  /** switches an inherited strategy of the same metric and tags off at this node and below */
  off: boolean;
  createdBy: string;
  createdAt: string;
}

/** What `addStrategy` takes: the store gives the id. */
export type NewStrategy = Omit<StrategyRow, 'id'>;

/** The fields `updateStrategy` may change (what `strategy apply` changes in place, the id kept). */
export type StrategyPatch = Partial<
  Pick<StrategyRow, 'func' | 'op' | 'right' | 'maxStep' | 'priority' | 'note' | 'runFrom' | 'runTo' | 'off'>
>;

/** A nodata rule: a series of `metric` (with `tags`) under `node` silent for `afterSeconds` gets `mock` pushed. */
export interface NodataRow {
  id: number;
  node: string;
  metric: string;
  /** sorted `k=v,k=v`; '' for none */
  tags: string;
  afterSeconds: number;
  mock: number;
  /** seconds between mock points; null: the series' own step */
  step: number | null;
  createdBy: string;
  createdAt: string;
}

export type NewNodata = Omit<NodataRow, 'id'>;

/** A maintenance window: a node (its instances and hosts) or one host silenced until `until`. */
export interface MaintenanceRow {
  id: number;
  /** canonical tag; null when the window is a host's */
  node: string | null;
  /** a host's name; null when the window is a node's */
  host: string | null;
  /** ISO time it ends */
  until: string;
  reason: string;
  createdBy: string;
  createdAt: string;
}

export type NewMaintenance = Omit<MaintenanceRow, 'id'>;

/** The queries of this file, as the `Store` offers them. */
export interface StrategyQueries {
  addStrategy(row: NewStrategy): Promise<StrategyRow>;
  /** changes a strategy in place; answers whether it existed */
  updateStrategy(id: number, patch: StrategyPatch): Promise<boolean>;
  /** answers whether it existed */
  deleteStrategy(id: number): Promise<boolean>;
  getStrategy(id: number): Promise<StrategyRow | undefined>;
  /** by id; only the strategies of these nodes when given */
  listStrategies(filter?: { nodes?: readonly string[] }): Promise<StrategyRow[]>;
  addNodata(row: NewNodata): Promise<NodataRow>;
  deleteNodata(id: number): Promise<boolean>;
  /** by id */
  listNodata(): Promise<NodataRow[]>;
  addMaintenance(row: NewMaintenance): Promise<MaintenanceRow>;
  deleteMaintenance(id: number): Promise<boolean>;
  /** by id; only windows ending after `endsAfter` (ISO) when given */
  listMaintenance(filter?: { endsAfter?: string }): Promise<MaintenanceRow[]>;
}

/** The strategies table. */
export interface StrategiesTable {
  id: Generated<number>;
  node: string;
  metric: string;
  tags: string;
  func: string;
  op: string;
  right_value: number;
  max_step: number;
  priority: number;
  note: string;
  run_from: string | null;
  run_to: string | null;
  /** 0 or 1 */
  off: number;
  created_by: string;
  created_at: string;
}

/** The nodata rules table. */
export interface NodataRulesTable {
  id: Generated<number>;
  node: string;
  metric: string;
  tags: string;
  after_seconds: number;
  mock: number;
  step: number | null;
  created_by: string;
  created_at: string;
}

/** The maintenance windows table. */
export interface MaintenanceTable {
  id: Generated<number>;
  node: string | null;
  host: string | null;
  until: string;
  reason: string;
  created_by: string;
  created_at: string;
}

/** Migration 0017_strategies: the three tables. Values are `double precision` (SQLite: REAL affinity). */
export function strategiesMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  const id = (c: import('kysely').ColumnDefinitionBuilder) =>
    backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('strategies')
        .addColumn('id', 'integer', id)
        .addColumn('node', text, (c) => c.notNull())
        .addColumn('metric', text, (c) => c.notNull())
        .addColumn('tags', text, (c) => c.notNull())
        .addColumn('func', text, (c) => c.notNull())
        .addColumn('op', text, (c) => c.notNull())
        .addColumn('right_value', 'double precision', (c) => c.notNull())
        .addColumn('max_step', 'integer', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('note', text, (c) => c.notNull())
        .addColumn('run_from', text)
        .addColumn('run_to', text)
        .addColumn('off', 'integer', (c) => c.notNull())
        .addColumn('created_by', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('strategies_node').on('strategies').column('node').execute();
      await db.schema
        .createTable('nodata_rules')
        .addColumn('id', 'integer', id)
        .addColumn('node', text, (c) => c.notNull())
        .addColumn('metric', text, (c) => c.notNull())
        .addColumn('tags', text, (c) => c.notNull())
        .addColumn('after_seconds', 'integer', (c) => c.notNull())
        .addColumn('mock', 'double precision', (c) => c.notNull())
        .addColumn('step', 'integer')
        .addColumn('created_by', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('maintenance')
        .addColumn('id', 'integer', id)
        .addColumn('node', text)
        .addColumn('host', text)
        .addColumn('until', text, (c) => c.notNull())
        .addColumn('reason', text, (c) => c.notNull())
        .addColumn('created_by', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('maintenance').ifExists().execute();
      await db.schema.dropTable('nodata_rules').ifExists().execute();
      await db.schema.dropTable('strategies').ifExists().execute();
    },
  };
}

type DbStrategy = Omit<StrategiesTable, 'id'> & { id: number };

function strategyFromDb(r: DbStrategy): StrategyRow {
  return {
    id: Number(r.id),
    node: r.node,
    metric: r.metric,
    tags: r.tags,
    func: r.func,
    op: r.op,
    right: Number(r.right_value),
    maxStep: Number(r.max_step),
    priority: Number(r.priority),
    note: r.note,
    runFrom: r.run_from,
    runTo: r.run_to,
    off: Number(r.off) === 1,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function strategyToDb(r: NewStrategy): Omit<StrategiesTable, 'id'> {
  return {
    node: r.node,
    metric: r.metric,
    tags: r.tags,
    func: r.func,
    op: r.op,
    right_value: r.right,
    max_step: r.maxStep,
    priority: r.priority,
    note: r.note,
    run_from: r.runFrom,
    run_to: r.runTo,
    off: r.off ? 1 : 0,
    created_by: r.createdBy,
    created_at: r.createdAt,
  };
}

function nodataFromDb(r: Omit<NodataRulesTable, 'id'> & { id: number }): NodataRow {
  return {
    id: Number(r.id),
    node: r.node,
    metric: r.metric,
    tags: r.tags,
    afterSeconds: Number(r.after_seconds),
    mock: Number(r.mock),
    step: r.step === null ? null : Number(r.step),
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function maintenanceFromDb(r: Omit<MaintenanceTable, 'id'> & { id: number }): MaintenanceRow {
  return {
    id: Number(r.id),
    node: r.node,
    host: r.host,
    until: r.until,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

/** The queries on one database (a transaction's included). */
export function strategyQueries(db: Kysely<Database>): StrategyQueries {
  return {
    async addStrategy(row) {
      const r = await db.insertInto('strategies').values(strategyToDb(row)).returningAll().executeTakeFirstOrThrow();
      return strategyFromDb(r);
    },
    async updateStrategy(id, patch) {
      const set: Partial<Omit<StrategiesTable, 'id'>> = {};
      if (patch.func !== undefined) set.func = patch.func;
      if (patch.op !== undefined) set.op = patch.op;
      if (patch.right !== undefined) set.right_value = patch.right;
      if (patch.maxStep !== undefined) set.max_step = patch.maxStep;
      if (patch.priority !== undefined) set.priority = patch.priority;
      if (patch.note !== undefined) set.note = patch.note;
      if (patch.runFrom !== undefined) set.run_from = patch.runFrom;
      if (patch.runTo !== undefined) set.run_to = patch.runTo;
      if (patch.off !== undefined) set.off = patch.off ? 1 : 0;
      if (Object.keys(set).length === 0) return (await this.getStrategy(id)) !== undefined;
      const r = await db.updateTable('strategies').set(set).where('id', '=', id).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async deleteStrategy(id) {
      const r = await db.deleteFrom('strategies').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async getStrategy(id) {
      const r = await db.selectFrom('strategies').selectAll().where('id', '=', id).executeTakeFirst();
      return r && strategyFromDb(r);
    },
    async listStrategies(filter = {}) {
      let q = db.selectFrom('strategies').selectAll();
      if (filter.nodes !== undefined) {
        if (filter.nodes.length === 0) return [];
        q = q.where('node', 'in', [...filter.nodes]);
      }
      return (await q.orderBy('id').execute()).map(strategyFromDb);
    },
    async addNodata(row) {
      const r = await db
        .insertInto('nodata_rules')
        .values({
          node: row.node,
          metric: row.metric,
          tags: row.tags,
          after_seconds: row.afterSeconds,
          mock: row.mock,
          step: row.step,
          created_by: row.createdBy,
          created_at: row.createdAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return nodataFromDb(r);
    },
    async deleteNodata(id) {
      const r = await db.deleteFrom('nodata_rules').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async listNodata() {
      return (await db.selectFrom('nodata_rules').selectAll().orderBy('id').execute()).map(nodataFromDb);
    },
    async addMaintenance(row) {
      const r = await db
        .insertInto('maintenance')
        .values({
          node: row.node,
          host: row.host,
          until: row.until,
          reason: row.reason,
          created_by: row.createdBy,
          created_at: row.createdAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return maintenanceFromDb(r);
    },
    async deleteMaintenance(id) {
      const r = await db.deleteFrom('maintenance').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async listMaintenance(filter = {}) {
      let q = db.selectFrom('maintenance').selectAll();
      if (filter.endsAfter !== undefined) q = q.where('until', '>', filter.endsAfter);
      return (await q.orderBy('id').execute()).map(maintenanceFromDb);
    },
  };
}
