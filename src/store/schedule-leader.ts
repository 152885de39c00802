/**
 * What the scheduler loop's leader keeps in the store rather than in its memory, so the server that
 * takes the loop over after a failover carries on from it (issue 18; docs/scheduler.md, "Migration",
 * "Rebalance"). Migration 0025_schedule_leader:
 *
 * - `schedule_vacating`: the unheard hosts the migration budget let leave, and when. The budget (at
 *   most a share of the fleet per minute) counts them; a new leader that started a fresh window
 *   could empty another share of the fleet at once.
 * - `rebalance_requests`: `noops rebalance` asks, the leader's tick answers. Only the leader writes
 *   placements, so a rebalance cannot race a tick; a request is carried out once (its end is
 *   written in the same transaction as its moves), or cancelled by the asker who gave up waiting.
 *
 * Offered as part of `store.schedule` (schedule.ts), in the store's transaction if any.
 */
import { sql, type Kysely, type Migration, type Selectable } from 'kysely';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** An unheard host the migration budget let leave. */
export interface VacatingRow {
  host: string;
  /** ISO time the leader let it leave */
  since: string;
}

/** The moves a rebalance made (the wire's RebalanceView without `dryRun`). */
export interface RebalanceResultRow {
  moves: { tag: string; from: string; to: string; reason: string }[];
  freedHosts: string[];
}

/** A rebalance to make, as asked. */
export interface NewRebalanceRequest {
  at: string;
  /** who asked (the audit names them) */
  actor: string;
  maxMoves: number;
  /** the scheduled clusters the asker may move; null: every one (the admin) */
  movable: string[] | null;
}

/** A rebalance request and where it is. */
export interface RebalanceRequestRow extends NewRebalanceRequest {
  id: number;
  status: 'pending' | 'done' | 'cancelled';
  /** the moves made, once done */
  result: RebalanceResultRow | null;
  doneAt: string | null;
}

/** The vacating hosts' table. */
export interface ScheduleVacatingTable {
  host: string;
  since: string;
}

/** The rebalance requests' table. */
export interface RebalanceRequestsTable {
  id: import('kysely').Generated<number>;
  at: string;
  actor: string;
  max_moves: number;
  /** JSON array of tags; null: every cluster */
  movable: string | null;
  status: string;
  /** JSON RebalanceResultRow */
  result: string | null;
  done_at: string | null;
}

/** The queries of this file (part of `ScheduleStore`). */
export interface ScheduleLeaderStore {
  /** every host the budget let leave */
  listVacating(): Promise<VacatingRow[]>;
  /** records hosts let leave (a host already there keeps its time) and forgets others */
  setVacating(add: readonly VacatingRow[], remove: readonly string[]): Promise<void>;
  /** records a request; answers its id */
  addRebalanceRequest(r: NewRebalanceRequest): Promise<number>;
  /** the requests not yet carried out, oldest first */
  pendingRebalanceRequests(): Promise<RebalanceRequestRow[]>;
  getRebalanceRequest(id: number): Promise<RebalanceRequestRow | undefined>;
  /** marks a pending request done with its moves; answers false when it was not pending (done or cancelled already) */
  finishRebalanceRequest(id: number, result: RebalanceResultRow, at: string): Promise<boolean>;
  /** cancels a pending request; answers false when it was not pending (the leader carried it out first) */
  cancelRebalanceRequest(id: number, at: string): Promise<boolean>;
}

/** Migration 0025_schedule_leader: the two tables. */
export function scheduleLeaderMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('schedule_vacating')
        .addColumn('host', text, (c) => c.primaryKey())
        .addColumn('since', text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('rebalance_requests')
        .addColumn('id', 'integer', (c) =>
          backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
        )
        .addColumn('at', text, (c) => c.notNull())
        .addColumn('actor', text, (c) => c.notNull())
        .addColumn('max_moves', 'integer', (c) => c.notNull())
        .addColumn('movable', text)
        .addColumn('status', text, (c) => c.notNull())
        .addColumn('result', text)
        .addColumn('done_at', text)
        .execute();
      await db.schema.createIndex('rebalance_requests_status_id').on('rebalance_requests').columns(['status', 'id']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('rebalance_requests').ifExists().execute();
      await db.schema.dropTable('schedule_vacating').ifExists().execute();
    },
  };
}

/**
 * Requests carried out or cancelled are kept this long (a week: the audit log holds what a
 * rebalance moved for good; the rows only answer the asker, who waits seconds), then swept when
 * the next one is asked.
 */
export const REBALANCE_REQUESTS_KEPT_MS = 7 * 24 * 3600_000;

const STATUSES: readonly string[] = ['pending', 'done', 'cancelled'] satisfies RebalanceRequestRow['status'][];

function requestFromDb(r: Selectable<RebalanceRequestsTable>): RebalanceRequestRow {
  return {
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    maxMoves: Number(r.max_moves),
    movable: r.movable === null ? null : (JSON.parse(r.movable) as string[]),
    status: STATUSES.includes(r.status) ? (r.status as RebalanceRequestRow['status']) : 'cancelled',
    result: r.result === null ? null : (JSON.parse(r.result) as RebalanceResultRow),
    doneAt: r.done_at,
  };
}

/** Only the known fields, in one order. */
function resultJson(r: RebalanceResultRow): string {
  return JSON.stringify({
    moves: r.moves.map((m) => ({ tag: m.tag, from: m.from, to: m.to, reason: m.reason })),
    freedHosts: [...r.freedHosts],
  });
}

/** The queries on one database (a transaction's included). */
export function scheduleLeaderQueries(db: Kysely<Database>): ScheduleLeaderStore {
  return {
    async listVacating() {
      return db.selectFrom('schedule_vacating').selectAll().orderBy('host').execute();
    },
    async setVacating(add, remove) {
      if (remove.length > 0)
        await db
          .deleteFrom('schedule_vacating')
          .where('host', 'in', [...remove])
          .execute();
      if (add.length > 0)
        await db
          .insertInto('schedule_vacating')
          .values(add.map((v) => ({ host: v.host, since: v.since })))
          .onConflict((oc) => oc.column('host').doNothing())
          .execute();
    },
    async addRebalanceRequest(r) {
      const cutoff = new Date(Date.parse(r.at) - REBALANCE_REQUESTS_KEPT_MS).toISOString();
      await db.deleteFrom('rebalance_requests').where('status', '!=', 'pending').where('done_at', '<', cutoff).execute();
      const row = await db
        .insertInto('rebalance_requests')
        .values({
          at: r.at,
          actor: r.actor,
          max_moves: r.maxMoves,
          movable: r.movable === null ? null : JSON.stringify(r.movable),
          status: 'pending',
          result: null,
          done_at: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(row.id);
    },
    async pendingRebalanceRequests() {
      const rows = await db.selectFrom('rebalance_requests').selectAll().where('status', '=', 'pending').orderBy('id').execute();
      return rows.map(requestFromDb);
    },
    async getRebalanceRequest(id) {
      const r = await db.selectFrom('rebalance_requests').selectAll().where('id', '=', id).executeTakeFirst();
      return r === undefined ? undefined : requestFromDb(r);
    },
    async finishRebalanceRequest(id, result, at) {
      const r = await db
        .updateTable('rebalance_requests')
        .set({ status: 'done', result: resultJson(result), done_at: at })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async cancelRebalanceRequest(id, at) {
      const r = await db
        .updateTable('rebalance_requests')
        .set({ status: 'cancelled', done_at: at })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}
