/**
 * The scheduler's history (issue 18): every placement, migration, drain, rebalance move and stale
 * copy stopped, with its reason, per cluster. The scheduler loop (server/schedule-*.ts) appends;
 * `GET /clusters/:tag/placements` and the console's cluster history read. Migration 0023_placements.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { chunks } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** Why an instance was placed or moved (the wire's PLACEMENT_KINDS). */
export type PlacementEventKind = 'place' | 'scale' | 'migrate' | 'drain' | 'rebalance' | 'stale';

/** One event as stored (the wire's PlacementEventView). */
export interface PlacementEventRow extends Required<NewPlacementEvent> {
  id: number;
}

/** One event to record (its id and time are given when stored, unless `at` is set). */
export interface NewPlacementEvent {
  tag: string;
  kind: PlacementEventKind;
  /** the host the instance left (null: a new instance) */
  from: string | null;
  /** the host the instance went to (null: an instance removed) */
  to: string | null;
  reason: string;
  /** ISO time; default: now */
  at?: string;
}

/** The table. */
export interface PlacementEventsTable {
  id: import('kysely').Generated<number>;
  tag: string;
  kind: string;
  from_host: string | null;
  to_host: string | null;
  reason: string;
  at: string;
}

/** A copy left on a host that was unheard when its cluster moved: named in its `stops` until seen stopped. */
export interface StaleCopyRow {
  host: string;
  tag: string;
  since: string;
}

/** The stale copies' table. */
export interface StaleCopiesTable {
  host: string;
  tag: string;
  since: string;
}

/** Migration 0023_placements: the history, indexed by cluster and time, and the stale copies. */
export function placementsMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('placement_events')
        .addColumn('id', 'integer', (c) =>
          backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
        )
        .addColumn('tag', text, (c) => c.notNull())
        .addColumn('kind', text, (c) => c.notNull())
        .addColumn('from_host', text)
        .addColumn('to_host', text)
        .addColumn('reason', text, (c) => c.notNull())
        .addColumn('at', text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('placement_events_tag_id').on('placement_events').columns(['tag', 'id']).execute();
      await db.schema
        .createTable('stale_copies')
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('tag', text, (c) => c.notNull())
        .addColumn('since', text, (c) => c.notNull())
        .addPrimaryKeyConstraint('stale_copies_pk', ['host', 'tag'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('stale_copies').ifExists().execute();
      await db.schema.dropTable('placement_events').ifExists().execute();
    },
  };
}

/** Appends events, in order, in one transaction. */
export async function recordPlacements(db: Kysely<Database>, events: readonly NewPlacementEvent[]): Promise<void> {
  if (events.length === 0) return;
  const now = new Date().toISOString();
  const rows = events.map((e) => ({
    tag: e.tag,
    kind: e.kind,
    from_host: e.from,
    to_host: e.to,
    reason: e.reason.slice(0, 1000),
    at: e.at ?? now,
  }));
  const write = async (trx: Kysely<Database>): Promise<void> => {
    for (const batch of chunks(rows)) await trx.insertInto('placement_events').values(batch).execute();
  };
  if (db.isTransaction) await write(db);
  else await db.transaction().execute(write);
}

const KINDS: readonly string[] = ['place', 'scale', 'migrate', 'drain', 'rebalance', 'stale'] satisfies PlacementEventKind[];

/** What to read of the history. */
export interface PlacementQuery {
  tag: string;
  /** at most this many, the most recent (default 200) */
  limit?: number;
  /** only events with an id below this one (paging back) */
  before?: number;
}

/** A cluster's events, most recent first. */
export async function listPlacements(db: Kysely<Database>, q: PlacementQuery): Promise<PlacementEventRow[]> {
  let query = db.selectFrom('placement_events').selectAll().where('tag', '=', q.tag);
  if (q.before !== undefined) query = query.where('id', '<', q.before);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(q.limit ?? 200)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    tag: r.tag,
    kind: KINDS.includes(r.kind) ? (r.kind as PlacementEventKind) : 'place',
    from: r.from_host,
    to: r.to_host,
    reason: r.reason,
    at: r.at,
  }));
}

/** Remembers a stale copy (once: a second mark keeps the first time). */
export async function addStaleCopy(db: Kysely<Database>, row: StaleCopyRow): Promise<void> {
  await db
    .insertInto('stale_copies')
    .values(row)
    .onConflict((oc) => oc.columns(['host', 'tag']).doNothing())
    .execute();
}

/** Every stale copy, by host and tag. */
export async function listStaleCopies(db: Kysely<Database>): Promise<StaleCopyRow[]> {
  return db.selectFrom('stale_copies').selectAll().orderBy('host').orderBy('tag').execute();
}

/** Forgets a stale copy; answers whether there was one. */
export async function removeStaleCopy(db: Kysely<Database>, host: string, tag: string): Promise<boolean> {
  const r = await db.deleteFrom('stale_copies').where('host', '=', host).where('tag', '=', tag).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
