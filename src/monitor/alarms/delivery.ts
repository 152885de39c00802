/**
 * Delivering alarms to HTTP callbacks (issue 15). Each stored event that no silence or
 * maintenance window covers is owed to every callback whose priority takes it: P0–P2 at once,
 * P3 and lower merged per minute per strategy (one call carrying every event of the minute, as
 * Falcon's alarm merges its low priorities). What is owed is stored (`alarm_deliveries`), so the
 * server that takes the judge's lease over delivers what the last one had not; a failed call is
 * tried again with exponential backoff. Sending runs beside the judge and never blocks it.
 *
 * The call is Falcon's callback (modules/alarm/cron/callback.go), as a POST with the fields
 * form-encoded (Falcon's receivers read them with `FormValue`, which takes a form body as it takes
 * a query): `endpoint, metric, status, step, priority, time, tpl_id, exp_id, stra_id, left_value,
 * tags` (tags as Falcon's `k:v,k:v`), plus noops' `note`, `event_id`, `alarm_id` and `count`. A
 * merged call repeats each field once per event, in order (`count` says how many).
 */
import type { AlarmEventRow, CallbackRow, DeliveryRow, Store } from '../../store/index.js';
import { ALARMS_SENT } from '../victoria/figures.js';

/** The most urgent priority merged: P0–P2 leave at once (Falcon's `Priority() < 3`). */
export const LOWEST_IMMEDIATE_PRIORITY = 2;
/** Low priorities are merged over windows of this length, per strategy. */
export const MERGE_WINDOW_MS = 60_000;
/** The first retry waits this long; each next one twice as long, up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 10 * 60_000;
/** A delivery is given up after this many failed calls (about an hour of trying). */
export const MAX_ATTEMPTS = 15;
/** One call may take this long. */
export const CALL_TIMEOUT_MS = 5000;

/** Writes under the judge's lease (`store.fenced(fence, ...)` on PostgreSQL; the store alone on SQLite). */
export type FencedWrite = <T>(fn: (store: Store) => Promise<T>) => Promise<T>;

/** The wait before attempt `attempts + 1`, after `attempts` failed calls. */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
}

/** Falcon's `FormattedTime`: `YYYY-MM-DD HH:MM:SS` (UTC here). */
export function falconTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** Falcon's value as text: integers without a point, others as JavaScript prints them. */
function readable(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/** Falcon's callback fields of events (one or several: each field repeated per event, in order). */
export function callbackForm(events: readonly AlarmEventRow[]): URLSearchParams {
  const form = new URLSearchParams();
  for (const e of events) {
    form.append('endpoint', e.endpoint);
    form.append('metric', e.metric);
    form.append('status', e.status);
    form.append('step', String(e.currentStep));
    form.append('priority', String(e.priority));
    form.append('time', falconTime(e.eventTime));
    form.append('tpl_id', '0');
    form.append('exp_id', '0');
    form.append('stra_id', e.strategyId);
    form.append('left_value', readable(e.leftValue));
    form.append(
      'tags',
      e.tags === ''
        ? ''
        : e.tags
            .split(',')
            .map((p) => p.replace('=', ':'))
            .join(','),
    );
    form.append('note', e.note);
    form.append('event_id', e.eventId);
    form.append('alarm_id', String(e.id));
  }
  form.append('count', String(events.length));
  return form;
}

/**
 * What stored events are owed: a row per (callback, event) for each callback whose priority takes
 * it; silenced events are owed nothing. Low priorities share a batch per strategy and window,
 * due at the window's end.
 */
export function owed(
  events: readonly AlarmEventRow[],
  callbacks: readonly CallbackRow[],
  nowMs: number,
): Omit<DeliveryRow, 'id' | 'attempts' | 'doneAt' | 'lastError'>[] {
  const out: Omit<DeliveryRow, 'id' | 'attempts' | 'doneAt' | 'lastError'>[] = [];
  for (const e of events) {
    if (e.silenced !== null) continue;
    for (const cb of callbacks) {
      if (cb.priority !== null && e.priority > cb.priority) continue;
      if (e.priority <= LOWEST_IMMEDIATE_PRIORITY) out.push({ callbackId: cb.id, alarmId: e.id, batch: null, nextAt: nowMs });
      else {
        const window = Math.floor(nowMs / MERGE_WINDOW_MS) * MERGE_WINDOW_MS;
        out.push({ callbackId: cb.id, alarmId: e.id, batch: `${e.strategyId}@${window}`, nextAt: window + MERGE_WINDOW_MS });
      }
    }
  }
  return out;
}

/** Posts one call; answers an error's text, or undefined when the callback took it (2xx). */
export type PostCallback = (url: string, form: URLSearchParams) => Promise<string | undefined>;

/** The real call: POST, form-encoded, within CALL_TIMEOUT_MS. */
export const postForm: PostCallback = async (url, form) => {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    return (err as Error).message;
  }
};

export interface DelivererOptions {
  store: Store;
  write: FencedWrite;
  post?: PostCallback;
  log: (line: string) => void;
  now?: () => number;
  /** at most this long between two looks at the table (a delivery another server stored) */
  idleMs?: number;
}

/**
 * Sends what is owed while started: wakes at once when told (`wake`), at the next due time, and
 * at least every `idleMs`. One pass sends every due group concurrently.
 */
export class Deliverer {
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #started = false;
  #idle: Promise<void> = Promise.resolve();
  /** calls made, by outcome (for tests and the bench) */
  readonly counts = { sent: 0, failed: 0, givenUp: 0 };

  constructor(private readonly o: DelivererOptions) {}

  start(): void {
    this.#started = true;
    this.wake();
  }

  /** Stops sending; answers once the pass under way ended. */
  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    await this.#idle;
  }

  /** Looks at the table now (something was stored). */
  wake(): void {
    if (!this.#started) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = true;
    this.#idle = this.#pass()
      .catch((err: Error) => this.o.log(`alarms: delivering failed (tried again): ${err.message}`))
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.wake();
        } else void this.#schedule();
      });
  }

  async #schedule(): Promise<void> {
    if (!this.#started) return;
    const now = (this.o.now ?? Date.now)();
    const idle = this.o.idleMs ?? 1000;
    const next = await this.o.store.alarms.nextDeliveryAt().catch(() => undefined);
    const wait = Math.max(0, Math.min(idle, next === undefined ? idle : next - now));
    if (!this.#started || this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), wait);
    this.#timer.unref();
  }

  async #pass(): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    const due = await this.o.store.alarms.dueDeliveries(now, 500);
    if (due.length === 0) return;
    const callbacks = new Map((await this.o.store.alarms.listCallbacks()).map((c) => [c.id, c]));
    const groups = new Map<string, DeliveryRow[]>();
    for (const d of due) {
      const key = `${d.callbackId}/${d.batch ?? `#${d.id}`}`;
      const g = groups.get(key);
      if (g) g.push(d);
      else groups.set(key, [d]);
    }
    await Promise.all([...groups.values()].map((g) => this.#send(g, callbacks.get(g[0]!.callbackId))));
  }

  async #send(group: DeliveryRow[], callback: CallbackRow | undefined): Promise<void> {
    const ids = group.map((d) => d.id);
    const at = new Date((this.o.now ?? Date.now)()).toISOString();
    if (callback === undefined) {
      await this.o.write((s) => s.alarms.settleDeliveries(ids, { at, error: 'the callback was removed' }));
      return;
    }
    // one read for the group (a merged minute may hold many), in the group's order
    const byId = new Map((await this.o.store.alarms.getEvents(group.map((d) => d.alarmId))).map((e) => [e.id, e]));
    const events: AlarmEventRow[] = [];
    for (const d of group) {
      const e = byId.get(d.alarmId);
      if (e) events.push(e);
    }
    const error = events.length === 0 ? undefined : await (this.o.post ?? postForm)(callback.url, callbackForm(events));
    if (error === undefined) {
      this.counts.sent += 1;
      for (const e of events) ALARMS_SENT.inc(1, { priority: String(e.priority) }); // GET /metrics
      await this.o.write((s) => s.alarms.settleDeliveries(ids, { at }));
      return;
    }
    const attempts = Math.max(...group.map((d) => d.attempts)) + 1;
    if (attempts >= MAX_ATTEMPTS) {
      this.counts.givenUp += 1;
      this.o.log(
        `alarms: gave up calling callback ${callback.id} after ${attempts} attempts (its URL is not logged: it may hold a token): ${error}`,
      );
      await this.o.write((s) => s.alarms.settleDeliveries(ids, { at, error: `gave up: ${error}` }));
      return;
    }
    this.counts.failed += 1;
    const nextAt = (this.o.now ?? Date.now)() + backoffMs(attempts);
    await this.o.write((s) => s.alarms.settleDeliveries(ids, { at, error, nextAt }));
  }
}
