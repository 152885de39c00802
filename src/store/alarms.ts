/**
 * Alarms (issue 15, migration 0018_alarms): every event the judge sent, the silences people set,
 * the callbacks alarms are delivered to, and the deliveries still owed. Deliveries are rows, so a
 * server that takes the judge's lease over resumes what the last leader had not delivered.
 *
 *   alarm_events      one row per event sent (the last row of a strategy + series is its truth)
 *   alarm_silences    a selector silenced until a time, with its reason and who set it
 *   alarm_callbacks   a URL and the least urgent priority it takes
 *   alarm_deliveries  one row per (callback, event): due time, attempts, done; rows of one
 *                     `batch` (low priorities merged per minute per strategy) leave in one call
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { chunks } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** The table of events. `node` is the tree tag a team must see to see the alarm. */
export interface AlarmEventsTable {
  id: import('kysely').Generated<number>;
  event_id: string;
  strategy_id: string;
  series_key: string;
  endpoint: string;
  metric: string;
  tags: string;
  node: string;
  selector: string;
  status: string;
  current_step: number;
  left_value: number;
  event_time: number;
  priority: number;
  note: string;
  func: string;
  op: string;
  right_value: number;
  stored_at: string;
  acked_by: string | null;
  acked_at: string | null;
  silenced: string | null;
}

export interface AlarmSilencesTable {
  id: import('kysely').Generated<number>;
  selector: string;
  until: string;
  reason: string;
  created_by: string;
  created_at: string;
}

export interface AlarmCallbacksTable {
  id: import('kysely').Generated<number>;
  url: string;
  priority: number | null;
  created_by: string;
  created_at: string;
}

export interface AlarmDeliveriesTable {
  id: import('kysely').Generated<number>;
  callback_id: number;
  alarm_id: number;
  batch: string | null;
  attempts: number;
  /** milliseconds since the epoch */
  next_at: number;
  done_at: string | null;
  last_error: string | null;
}

/** One stored event. */
export interface AlarmEventRow {
  id: number;
  /** Falcon's event id (`s_...` host-bound, `e_...` tag-bound) */
  eventId: string;
  strategyId: string;
  seriesKey: string;
  endpoint: string;
  metric: string;
  tags: string;
  /** the tree tag a team must see (the instance's node, or the strategy's) */
  node: string;
  /** the strategy's node, as a selector */
  selector: string;
  status: 'PROBLEM' | 'OK';
  currentStep: number;
  leftValue: number;
  /** seconds: the data time of the point that made it */
  eventTime: number;
  priority: number;
  note: string;
  func: string;
  op: string;
  right: number;
  storedAt: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  /** why it was not delivered (a silence or a maintenance window); null when it was */
  silenced: string | null;
}

export type NewAlarmEvent = Omit<AlarmEventRow, 'id' | 'acknowledgedBy' | 'acknowledgedAt'>;

export interface SilenceRow {
  id: number;
  /** a canonical tree tag: the subtree silenced */
  selector: string;
  until: string;
  reason: string;
  createdBy: string;
  createdAt: string;
}

export interface CallbackRow {
  id: number;
  url: string;
  /** the least urgent priority it takes (0 the most urgent); null: every priority */
  priority: number | null;
  createdBy: string;
  createdAt: string;
}

export interface DeliveryRow {
  id: number;
  callbackId: number;
  alarmId: number;
  /** rows of one batch leave in one call; null: alone */
  batch: string | null;
  attempts: number;
  /** ms since the epoch */
  nextAt: number;
  doneAt: string | null;
  lastError: string | null;
}

/** Which events `listEvents` answers. */
export interface AlarmFilter {
  /** problem: the last event of each strategy + series, when it is PROBLEM; ok / all: every OK / every event */
  status: 'problem' | 'ok' | 'all';
  /** only events whose node is this tag or under it */
  under?: string;
  /** only the events of this series (api/falcon.ts seriesKey) */
  seriesKey?: string;
  /** only events with an id below this (the next page) */
  beforeId?: number;
  limit: number;
}

/** The alarms' tables, reached as `store.alarms` (on a transaction's store, in that transaction). */
export interface AlarmStore {
  /** stores events in order; answers them with their ids */
  addEvents(events: readonly NewAlarmEvent[]): Promise<AlarmEventRow[]>;
  /** newest first */
  listEvents(filter: AlarmFilter): Promise<AlarmEventRow[]>;
  getEvent(id: number): Promise<AlarmEventRow | undefined>;
  /** answers false when there is no such event */
  ackEvent(id: number, by: string, at: string): Promise<boolean>;
  /** the last event of every strategy + series (to seed a judge that takes the lease) */
  lastEvents(): Promise<AlarmEventRow[]>;

  addSilence(row: Omit<SilenceRow, 'id'>): Promise<SilenceRow>;
  /** newest first; with `activeAt`, only those whose `until` is later */
  listSilences(activeAt?: string): Promise<SilenceRow[]>;
  deleteSilence(id: number): Promise<SilenceRow | undefined>;

  addCallback(row: Omit<CallbackRow, 'id'>): Promise<CallbackRow>;
  listCallbacks(): Promise<CallbackRow[]>;
  /** removes it and what it was still owed */
  deleteCallback(id: number): Promise<CallbackRow | undefined>;

  addDeliveries(rows: readonly Omit<DeliveryRow, 'id' | 'attempts' | 'doneAt' | 'lastError'>[]): Promise<void>;
  /** undone deliveries due at `nowMs` (whole batches: a batch is due when its first row is), oldest first */
  dueDeliveries(nowMs: number, limit: number): Promise<DeliveryRow[]>;
  /** the earliest time an undone delivery is due, if any */
  nextDeliveryAt(): Promise<number | undefined>;
  /** marks rows delivered (`error` undefined), to be tried again at `nextAt`, or given up (`nextAt` undefined) */
  settleDeliveries(ids: readonly number[], outcome: { at: string; error?: string; nextAt?: number }): Promise<void>;
}

/** Migration 0018_alarms: the four tables and the indexes their reads use. */
export function alarmsMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  const identity = (c: import('kysely').ColumnDefinitionBuilder) =>
    backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();
  const real = backend === 'sqlite' ? 'real' : 'double precision';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('alarm_events')
        .addColumn('id', 'integer', identity)
        .addColumn('event_id', text, (c) => c.notNull())
        .addColumn('strategy_id', text, (c) => c.notNull())
        .addColumn('series_key', text, (c) => c.notNull())
        .addColumn('endpoint', text, (c) => c.notNull())
        .addColumn('metric', text, (c) => c.notNull())
        .addColumn('tags', text, (c) => c.notNull())
        .addColumn('node', text, (c) => c.notNull())
        .addColumn('selector', text, (c) => c.notNull())
        .addColumn('status', text, (c) => c.notNull())
        .addColumn('current_step', 'integer', (c) => c.notNull())
        .addColumn('left_value', real, (c) => c.notNull())
        .addColumn('event_time', 'bigint', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('note', text, (c) => c.notNull())
        .addColumn('func', text, (c) => c.notNull())
        .addColumn('op', text, (c) => c.notNull())
        .addColumn('right_value', real, (c) => c.notNull())
        .addColumn('stored_at', text, (c) => c.notNull())
        .addColumn('acked_by', text)
        .addColumn('acked_at', text)
        .addColumn('silenced', text)
        .execute();
      await db.schema.createIndex('alarm_events_series').on('alarm_events').columns(['strategy_id', 'series_key', 'id']).execute();
      await db.schema.createIndex('alarm_events_node').on('alarm_events').columns(['node', 'id']).execute();
      await db.schema
        .createTable('alarm_silences')
        .addColumn('id', 'integer', identity)
        .addColumn('selector', text, (c) => c.notNull())
        .addColumn('until', text, (c) => c.notNull())
        .addColumn('reason', text, (c) => c.notNull())
        .addColumn('created_by', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('alarm_callbacks')
        .addColumn('id', 'integer', identity)
        .addColumn('url', text, (c) => c.notNull())
        .addColumn('priority', 'integer')
        .addColumn('created_by', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('alarm_deliveries')
        .addColumn('id', 'integer', identity)
        .addColumn('callback_id', 'integer', (c) => c.notNull())
        .addColumn('alarm_id', 'integer', (c) => c.notNull())
        .addColumn('batch', text)
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('done_at', text)
        .addColumn('last_error', text)
        .execute();
      await db.schema.createIndex('alarm_deliveries_due').on('alarm_deliveries').columns(['done_at', 'next_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['alarm_deliveries', 'alarm_callbacks', 'alarm_silences', 'alarm_events'])
        await db.schema.dropTable(t).ifExists().execute();
    },
  };
}

type DbEvent = import('kysely').Selectable<AlarmEventsTable>;

function eventFromDb(r: DbEvent): AlarmEventRow {
  return {
    id: Number(r.id),
    eventId: r.event_id,
    strategyId: r.strategy_id,
    seriesKey: r.series_key,
    endpoint: r.endpoint,
    metric: r.metric,
    tags: r.tags,
    node: r.node,
    selector: r.selector,
    status: r.status as AlarmEventRow['status'],
    currentStep: Number(r.current_step),
    leftValue: Number(r.left_value),
    eventTime: Number(r.event_time),
    priority: Number(r.priority),
    note: r.note,
    func: r.func,
    op: r.op,
    right: Number(r.right_value),
    storedAt: r.stored_at,
    acknowledgedBy: r.acked_by,
    acknowledgedAt: r.acked_at,
    silenced: r.silenced,
  };
}

function silenceFromDb(r: import('kysely').Selectable<AlarmSilencesTable>): SilenceRow {
  return { id: Number(r.id), selector: r.selector, until: r.until, reason: r.reason, createdBy: r.created_by, createdAt: r.created_at };
}

function callbackFromDb(r: import('kysely').Selectable<AlarmCallbacksTable>): CallbackRow {
  return {
    id: Number(r.id),
    url: r.url,
    priority: r.priority === null ? null : Number(r.priority),
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function deliveryFromDb(r: import('kysely').Selectable<AlarmDeliveriesTable>): DeliveryRow {
  return {
    id: Number(r.id),
    callbackId: Number(r.callback_id),
    alarmId: Number(r.alarm_id),
    batch: r.batch,
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    doneAt: r.done_at,
    lastError: r.last_error,
  };
}

/**
 * The alarms' tables on one kysely instance (the store's, or a transaction's).
 * `under` filters by a range of tags: `T` itself, or `T_...` (every tag below starts so; `` ` `` is
 * the character after `_`), which an index on `node` serves on both backends (byte order).
 */
export class KyselyAlarmStore implements AlarmStore {
  constructor(
    private readonly db: Kysely<Database>,
    readonly kind: Backend,
  ) {}

  async addEvents(events: readonly NewAlarmEvent[]): Promise<AlarmEventRow[]> {
    const out: AlarmEventRow[] = [];
    for (const e of events) {
      const row = await this.db
        .insertInto('alarm_events')
        .values({
          event_id: e.eventId,
          strategy_id: e.strategyId,
          series_key: e.seriesKey,
          endpoint: e.endpoint,
          metric: e.metric,
          tags: e.tags,
          node: e.node,
          selector: e.selector,
          status: e.status,
          current_step: e.currentStep,
          left_value: e.leftValue,
          event_time: e.eventTime,
          priority: e.priority,
          note: e.note,
          func: e.func,
          op: e.op,
          right_value: e.right,
          stored_at: e.storedAt,
          acked_by: null,
          acked_at: null,
          silenced: e.silenced,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      out.push(eventFromDb(row));
    }
    return out;
  }

  async listEvents(filter: AlarmFilter): Promise<AlarmEventRow[]> {
    let q = this.db.selectFrom('alarm_events as e').selectAll('e');
    if (filter.status === 'problem') {
      q = q.where('e.status', '=', 'PROBLEM').where('e.id', 'in', (eb) =>
        eb
          .selectFrom('alarm_events as l')
          .select((b) => b.fn.max('l.id').as('id'))
          .groupBy(['l.strategy_id', 'l.series_key']),
      );
    } else if (filter.status === 'ok') {
      q = q.where('e.status', '=', 'OK');
    }
    const under = filter.under;
    if (under !== undefined)
      q = q.where((eb) => eb.or([eb('e.node', '=', under), eb.and([eb('e.node', '>', `${under}_`), eb('e.node', '<', `${under}\``)])]));
    if (filter.seriesKey !== undefined) q = q.where('e.series_key', '=', filter.seriesKey);
    if (filter.beforeId !== undefined) q = q.where('e.id', '<', filter.beforeId);
    const rows = await q.orderBy('e.id', 'desc').limit(filter.limit).execute();
    return rows.map(eventFromDb);
  }

  async getEvent(id: number): Promise<AlarmEventRow | undefined> {
    const r = await this.db.selectFrom('alarm_events').selectAll().where('id', '=', id).executeTakeFirst();
    return r && eventFromDb(r);
  }

  async ackEvent(id: number, by: string, at: string): Promise<boolean> {
    const r = await this.db.updateTable('alarm_events').set({ acked_by: by, acked_at: at }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async lastEvents(): Promise<AlarmEventRow[]> {
    const rows = await this.db
      .selectFrom('alarm_events')
      .selectAll()
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('alarm_events as l')
          .select((b) => b.fn.max('l.id').as('id'))
          .groupBy(['l.strategy_id', 'l.series_key']),
      )
      .orderBy('id')
      .execute();
    return rows.map(eventFromDb);
  }

  async addSilence(row: Omit<SilenceRow, 'id'>): Promise<SilenceRow> {
    const r = await this.db
      .insertInto('alarm_silences')
      .values({ selector: row.selector, until: row.until, reason: row.reason, created_by: row.createdBy, created_at: row.createdAt })
      .returningAll()
      .executeTakeFirstOrThrow();
    return silenceFromDb(r);
  }

  async listSilences(activeAt?: string): Promise<SilenceRow[]> {
    let q = this.db.selectFrom('alarm_silences').selectAll();
    if (activeAt !== undefined) q = q.where('until', '>', activeAt);
    return (await q.orderBy('id', 'desc').execute()).map(silenceFromDb);
  }

  async deleteSilence(id: number): Promise<SilenceRow | undefined> {
    const r = await this.db.deleteFrom('alarm_silences').where('id', '=', id).returningAll().executeTakeFirst();
    return r && silenceFromDb(r);
  }

  async addCallback(row: Omit<CallbackRow, 'id'>): Promise<CallbackRow> {
    const r = await this.db
      .insertInto('alarm_callbacks')
      .values({ url: row.url, priority: row.priority, created_by: row.createdBy, created_at: row.createdAt })
      .returningAll()
      .executeTakeFirstOrThrow();
    return callbackFromDb(r);
  }

  async listCallbacks(): Promise<CallbackRow[]> {
    return (await this.db.selectFrom('alarm_callbacks').selectAll().orderBy('id').execute()).map(callbackFromDb);
  }

  async deleteCallback(id: number): Promise<CallbackRow | undefined> {
    const r = await this.db.deleteFrom('alarm_callbacks').where('id', '=', id).returningAll().executeTakeFirst();
    if (r) await this.db.deleteFrom('alarm_deliveries').where('callback_id', '=', id).where('done_at', 'is', null).execute();
    return r && callbackFromDb(r);
  }

  async addDeliveries(rows: readonly Omit<DeliveryRow, 'id' | 'attempts' | 'doneAt' | 'lastError'>[]): Promise<void> {
    for (const batch of chunks(rows)) {
      await this.db
        .insertInto('alarm_deliveries')
        .values(
          batch.map((r) => ({
            callback_id: r.callbackId,
            alarm_id: r.alarmId,
            batch: r.batch,
            attempts: 0,
            next_at: r.nextAt,
            done_at: null,
            last_error: null,
          })),
        )
        .execute();
    }
  }

  async dueDeliveries(nowMs: number, limit: number): Promise<DeliveryRow[]> {
    const rows = await this.db
      .selectFrom('alarm_deliveries')
      .selectAll()
      .where('done_at', 'is', null)
      .where('next_at', '<=', nowMs)
      .orderBy('next_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(deliveryFromDb);
  }

  async nextDeliveryAt(): Promise<number | undefined> {
    const r = await this.db
      .selectFrom('alarm_deliveries')
      .select((b) => b.fn.min('next_at').as('next'))
      .where('done_at', 'is', null)
      .executeTakeFirst();
    return r?.next === null || r?.next === undefined ? undefined : Number(r.next);
  }

  async settleDeliveries(ids: readonly number[], outcome: { at: string; error?: string; nextAt?: number }): Promise<void> {
    for (const batch of chunks(ids)) {
      const q = this.db.updateTable('alarm_deliveries').where('id', 'in', batch);
      if (outcome.error === undefined) await q.set({ done_at: outcome.at, last_error: null }).execute();
      else if (outcome.nextAt !== undefined)
        await q.set((eb) => ({ attempts: eb('attempts', '+', 1), next_at: outcome.nextAt!, last_error: outcome.error! })).execute();
      else await q.set((eb) => ({ attempts: eb('attempts', '+', 1), done_at: outcome.at, last_error: outcome.error! })).execute();
    }
  }
}
