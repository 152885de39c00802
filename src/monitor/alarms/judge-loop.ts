/**
 * The judge loop (issue 15): while this server leads `LOOPS.judge`, every stored point is judged
 * once, its events stored, marked silenced or delivered; nodata's mock values are pushed.
 *
 *   lead(fence) ──> seed: last event of each strategy + series (alarms table); the cursor (meta)
 *   tail: PointFeed.readSince(cursor)  (woken by bus `points`, at least every second)
 *     per series first met: its last `remain` points older than the batch ──> judge.seed
 *     per point: its series' number (judge.seriesOf by the store's series id, an array read; or
 *       judge.seriesId by key, one Map lookup, for a point without an id) ──> its candidates, kept per
 *       series while StrategyBook.generation() holds (else StrategyBook.candidatesOf, at once)
 *       ──> judge.pushSeries ──> events
 *   per batch, in one fenced transaction: events stored (silenced by a silence or a maintenance
 *     window, or owed to callbacks) + the cursor ──> bus `alarms`, Deliverer.wake
 *   nodata (nodata.ts), every second ──> MetricsIngest.take ──> stored ──> judged as any point
 *
 * The cursor is stored in the same commit as the events of the points before it, so a server that
 * takes the lease over goes on where the last leader's last commit ended: each point is judged
 * once, and a batch whose commit a lost lease refused is judged again by the next leader.
 */
import { EventEmitter } from 'node:events';
import { NoopsError } from '../../errors/index.js';
import type { AlarmEventRow, Fence, NewAlarmEvent, SilenceRow, Store } from '../../store/index.js';
import type { JudgeEvent, JudgePoint } from '../judge/types.js';
import type { FeedPoint, StoredPoint } from '../metrics/ports.js';
import { Deliverer, type FencedWrite, owed, type PostCallback } from './delivery.js';
import { alarmRow, judgeEventOf, silenceFor } from './events.js';
import { type GenerationalBook, isFast, judgeBatch, type NumberingJudge, SeededSeries, SeriesCandidates } from './judge-batch.js';
import { NodataRunner } from './nodata.js';
import { type FeedCursor, type IngestPort, isPromise, type JudgePort, type PointFeedPort, type StrategyPort } from './ports.js';

/** Where the next point to judge is, in the store's meta (written with the events). */
export const CURSOR_META_KEY = 'judge.cursor';
/** Points read per batch. */
export const BATCH_POINTS = 5000;
/** The loop looks at the feed at least this often, bus or not. */
export const FALLBACK_MS = 1000;

export interface JudgeLoopOptions {
  store: Store;
  feed: PointFeedPort;
  book: StrategyPort;
  makeJudge: () => JudgePort;
  ingest: IngestPort;
  /** points the judge keeps per series (its config's `remain`) */
  remain: number;
  log: (line: string) => void;
  /** tells the other servers an alarm was stored (bus `alarms`) */
  publish?: (id: string) => void;
  post?: PostCallback;
  now?: () => number;
  fallbackMs?: number;
}

export interface JudgeLoopEvents {
  /** a write was refused: another server leads the judge now */
  fenced: [reason: string];
  /** events were stored (delivered or silenced) */
  stored: [rows: AlarmEventRow[]];
}

function isFenced(err: unknown): boolean {
  return err instanceof NoopsError && err.code === 'NOOPS_E_FENCED';
}

/** A stored cursor; one that does not parse (an older format) is read from the start of what is kept. */
function parseCursor(text: string): FeedCursor | undefined {
  try {
    const c = JSON.parse(text) as FeedCursor;
    if (typeof c.after === 'number' && Array.isArray(c.missing)) return c;
  } catch {
    // answered below
  }
  return undefined;
}

function judgePoint(p: StoredPoint): JudgePoint {
  return { endpoint: p.endpoint, metric: p.metric, tags: p.tags, counterType: p.counterType, timestamp: p.timestamp, value: p.value };
}

/** The loop; `lead` and `follow` as the leadership of `LOOPS.judge` comes and goes. */
export class JudgeLoop extends EventEmitter<JudgeLoopEvents> {
  #generation = 0;
  #leading = false;
  #wake: (() => void) | undefined;
  /** a wake came while no sleep waited for it */
  #woken = false;
  #running: Promise<void> = Promise.resolve();
  #deliverer: Deliverer | undefined;
  #nodata: NodataRunner | undefined;
  /** stopped for good: a lease gained while the server closes starts nothing (its timers would hold the process) */
  #closed = false;
  /** points judged since started (for tests and the bench) */
  judged = 0;

  constructor(private readonly o: JudgeLoopOptions) {
    super();
  }

  leads(): boolean {
    return this.#leading;
  }

  /** Takes the loop up: seeds a new judge and starts tailing; `fence` undefined: alone (SQLite). */
  async lead(fence: Fence | undefined): Promise<void> {
    await this.#halt();
    if (this.#closed) return;
    const gen = ++this.#generation;
    this.#leading = true;
    const write: FencedWrite = async (fn) => {
      try {
        return await (fence === undefined ? fn(this.o.store) : this.o.store.fenced(fence, fn));
      } catch (err) {
        if (isFenced(err) && gen === this.#generation) {
          this.#leading = false;
          this.emit('fenced', (err as Error).message);
        }
        throw err;
      }
    };
    const judge = this.o.makeJudge();
    for (const row of await this.o.store.alarms.lastEvents()) judge.seedLastEvent(judgeEventOf(row));
    const stored = await this.o.store.getMeta(CURSOR_META_KEY);
    const cursor = stored === undefined ? await this.o.feed.head() : parseCursor(stored);
    if (gen !== this.#generation) return;
    this.#deliverer = new Deliverer({ store: this.o.store, write, post: this.o.post, log: this.o.log, now: this.o.now });
    this.#deliverer.start();
    this.#nodata = new NodataRunner({ feed: this.o.feed, book: this.o.book, ingest: this.o.ingest, log: this.o.log, now: this.o.now });
    this.#nodata.start();
    this.#running = this.#tail(gen, judge, cursor, write);
  }

  /** Stops leading (the lease is gone); what is stored stays for the next leader. */
  follow(why: string): void {
    if (!this.#leading) return;
    this.o.log(`judge: no longer leading (${why})`);
    void this.#halt();
  }

  /** Points were stored (bus `points`): read them now. */
  wake(): void {
    if (this.#wake) this.#wake();
    else this.#woken = true;
  }

  /** The deliverer, while leading (tests and the bench read its counts). */
  get deliverer(): Deliverer | undefined {
    return this.#deliverer;
  }

  /** Stops for good: a later `lead` (a lease gained while the server closes) is ignored. */
  async stop(): Promise<void> {
    this.#closed = true;
    await this.#halt();
  }

  async #halt(): Promise<void> {
    this.#generation += 1;
    this.#leading = false;
    this.#wake?.();
    const d = this.#deliverer;
    const n = this.#nodata;
    this.#deliverer = undefined;
    this.#nodata = undefined;
    n?.stop();
    await Promise.all([this.#running.catch(() => undefined), d?.stop()]);
  }

  async #tail(gen: number, judge: JudgePort, start: FeedCursor | undefined, write: FencedWrite): Promise<void> {
    let cursor = start;
    const seeded = new SeededSeries();
    const kept = new SeriesCandidates();
    while (gen === this.#generation) {
      try {
        const batch = await this.o.feed.readSince(cursor, BATCH_POINTS);
        if (gen !== this.#generation) return;
        if (batch.points.length === 0) {
          await this.#sleep(this.o.fallbackMs ?? FALLBACK_MS);
          continue;
        }
        await this.#seed(judge, batch.points, seeded);
        const events = await this.#judge(judge, batch.points, kept);
        this.judged += batch.points.length;
        const rows = await this.#rows(events);
        const next = batch.cursor;
        const stored = await write(async (s) => {
          const added = rows.length === 0 ? [] : await s.alarms.addEvents(rows);
          if (added.length > 0) {
            const callbacks = await s.alarms.listCallbacks();
            await s.alarms.addDeliveries(owed(added, callbacks, (this.o.now ?? Date.now)()));
          }
          await s.setMeta(CURSOR_META_KEY, JSON.stringify(next));
          return added;
        });
        cursor = next;
        if (stored.length > 0) {
          this.#deliverer?.wake();
          for (const r of stored) this.o.publish?.(String(r.id));
          this.emit('stored', stored);
        }
      } catch (err) {
        if (isFenced(err) || gen !== this.#generation) return;
        this.o.log(`judge: a batch failed (read again in a second): ${(err as Error).message}`);
        await this.#sleep(this.o.fallbackMs ?? FALLBACK_MS);
      }
    }
  }

  /**
   * Judges a batch, in store order. A stored point is a JudgePoint as it is (no copy). With a
   * judge that numbers series and a book with generations, the book is asked once per series
   * (again after its generation changed, and for every point while a run window is among the
   * answer): `judgeBatch`; otherwise once per point.
   */
  async #judge(judge: JudgePort, points: readonly FeedPoint[], kept: SeriesCandidates): Promise<JudgeEvent[]> {
    const events: JudgeEvent[] = [];
    const clock = this.o.now ?? Date.now;
    const book = this.o.book;
    if (isFast(judge, book)) {
      judgeBatch(judge as NumberingJudge, book as GenerationalBook, points, kept, clock, events);
      return events;
    }
    for (const p of points) {
      const now = clock();
      const answer = book.forPoint(p, new Date(now));
      const candidates = isPromise(answer) ? await answer : answer;
      for (const e of judge.push(p, now / 1000, candidates, p.key)) events.push(e);
    }
    return events;
  }

  /** Series first met since this server leads: their stored points before this batch, to the judge. */
  async #seed(judge: JudgePort, points: readonly FeedPoint[], seeded: SeededSeries): Promise<void> {
    const first = new Map<string, number>();
    const count = new Map<string, number>();
    const ids = new Map<string, number | undefined>();
    for (const p of points) {
      if (seeded.has(p.seriesId, p.key)) continue;
      if (!first.has(p.key)) {
        first.set(p.key, p.timestamp);
        ids.set(p.key, p.seriesId);
      }
      count.set(p.key, (count.get(p.key) ?? 0) + 1);
    }
    if (first.size === 0) return;
    const keys = [...first.keys()];
    const history = await this.o.feed.lastPointsMany(keys, this.o.remain + Math.max(...count.values()));
    for (const key of keys) {
      seeded.add(ids.get(key), key);
      const before = (history.get(key) ?? []).filter((p) => p.timestamp < first.get(key)!).slice(-this.o.remain);
      if (before.length > 0) judge.seed(key, before.map(judgePoint));
    }
  }

  /** The rows of a batch's events: the node each belongs to, and whether a silence or maintenance covers it. */
  async #rows(events: readonly JudgeEvent[]): Promise<NewAlarmEvent[]> {
    if (events.length === 0) return [];
    const now = (this.o.now ?? Date.now)();
    const at = new Date(now).toISOString();
    let silences: SilenceRow[] | undefined;
    const rows: NewAlarmEvent[] = [];
    for (const e of events) {
      const node = this.o.book.nodeOf(e.strategy.id);
      const strategyNode = (isPromise(node) ? await node : node) ?? '';
      let silenced: string | null = null;
      const maintenance = this.o.book.maintenance(e.endpoint, e.tags, new Date(now));
      const m = isPromise(maintenance) ? await maintenance : maintenance;
      if (m) silenced = `maintenance until ${m.until}${m.reason ? `: ${m.reason}` : ''}`;
      const row = alarmRow(e, strategyNode, silenced, at);
      if (silenced === null) {
        silences ??= await this.o.store.alarms.listSilences(at);
        const s = silenceFor(row.node, silences);
        if (s) row.silenced = `silence ${s.id} until ${s.until}${s.reason ? `: ${s.reason}` : ''}`;
      }
      rows.push(row);
    }
    return rows;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}
