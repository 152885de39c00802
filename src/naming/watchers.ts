/**
 * The parked blocking queries of naming, kept so that a change costs almost nothing per watcher:
 * a `Question` is one selector seen through one scope (a caller identity: what its token may
 * see), its answer worked out once per generation of the view and shared by every caller that
 * asks it; a `Watcher` is one parked query, a plain object (no closure, no timer of its own)
 * whose `deliver` is shared by all watchers of one kind; their deadlines sit in one
 * `DeadlineWheel` (one timer for all of them, fired at the earliest bucket).
 */
import type { NamingAnswer } from '../api/index.js';
import type { Selector } from '../tree/index.js';

/** What a caller may see: one per caller identity (the admin, a team token's scope), made once. */
export interface NamingScope {
  /** the same for every caller that sees the same tags */
  key: string;
  sees(tag: string): boolean;
}

/** One selector through one scope, with its answer at the generation it was worked out at. */
export class Question {
  /** the parked queries of this question */
  readonly watchers = new Set<Watcher>();
  /** the answer at `generation` (undefined: not worked out since the last change) */
  answer: NamingAnswer | undefined;
  generation = -1;

  constructor(
    /** `scope key NUL canonical selector` */
    readonly key: string,
    /** the canonical selector text (`cop=acme,service=shop`) */
    readonly target: string,
    readonly selector: Selector,
    readonly scope: NamingScope,
  ) {}
}

/** One parked blocking query: woken with the answer when its index moves, or at its deadline. */
export interface Watcher {
  question: Question;
  /** the index the caller holds: woken when the answer's differs */
  index: number;
  /** its bucket in the deadline wheel (set when parked) */
  tick: number;
  /** where the answer goes (an HTTP response, a promise's resolver) */
  target: unknown;
  /** sends `answer` to `watcher.target`: one function shared by every watcher of a kind */
  deliver(watcher: Watcher, answer: NamingAnswer): void;
}

/** The deadlines of parked queries are kept to this many ms (never early, at most this late). */
export const WHEEL_TICK_MS = 10;

/**
 * Items due at a time, in buckets of WHEEL_TICK_MS, with one timer armed at the earliest bucket:
 * adding and removing are a map lookup and a set operation, however many are parked.
 */
export class DeadlineWheel<T extends { tick: number }> {
  private readonly buckets = new Map<number, Set<T>>();
  /** the ticks of the buckets, a binary min-heap (a tick stays after its bucket empties: skipped when due) */
  private readonly ticks: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedTick = Number.POSITIVE_INFINITY;
  private count = 0;

  /** `opts.unref`: its timer does not keep the process alive (a wheel of hosts, not of callers waiting) */
  constructor(
    private readonly expire: (item: T) => void,
    private readonly opts: { unref?: boolean } = {},
  ) {}

  /** How many items are waiting. */
  get size(): number {
    return this.count;
  }

  /** `item` expires at `dueMs` (Date.now() time) or up to WHEEL_TICK_MS later. */
  add(item: T, dueMs: number): void {
    const tick = Math.ceil(dueMs / WHEEL_TICK_MS);
    item.tick = tick;
    let bucket = this.buckets.get(tick);
    if (bucket === undefined) {
      this.buckets.set(tick, (bucket = new Set()));
      heapPush(this.ticks, tick);
    }
    bucket.add(item);
    this.count += 1;
    if (tick < this.armedTick) this.arm();
  }

  /** Takes `item` out (it was answered before its deadline); false when it was not in. */
  remove(item: T): boolean {
    const bucket = this.buckets.get(item.tick);
    if (bucket === undefined || !bucket.delete(item)) return false;
    this.count -= 1;
    if (bucket.size === 0) this.buckets.delete(item.tick);
    if (this.count === 0) this.disarm();
    return true;
  }

  /** Every item still waiting (to answer them all at a stop); the wheel is left empty. */
  drain(): T[] {
    const all = [...this.buckets.values()].flatMap((b) => [...b]);
    this.buckets.clear();
    this.ticks.length = 0;
    this.count = 0;
    this.disarm();
    return all;
  }

  private arm(): void {
    while (this.ticks.length > 0 && !this.buckets.has(this.ticks[0]!)) heapPop(this.ticks);
    this.disarm();
    const next = this.ticks[0];
    if (next === undefined) return;
    this.armedTick = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next * WHEEL_TICK_MS - Date.now()));
    if (this.opts.unref) this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedTick = Number.POSITIVE_INFINITY;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedTick = Number.POSITIVE_INFINITY;
    const now = Date.now() / WHEEL_TICK_MS;
    while (this.ticks.length > 0 && this.ticks[0]! <= now) {
      const tick = heapPop(this.ticks)!;
      const bucket = this.buckets.get(tick);
      if (bucket === undefined) continue;
      this.buckets.delete(tick);
      this.count -= bucket.size;
      for (const item of bucket) {
        try {
          this.expire(item);
        } catch (err) {
          process.emitWarning(`naming: answering a blocking query at its deadline failed: ${(err as Error).message}`);
        }
      }
    }
    if (this.count > 0) this.arm();
  }
}

function heapPush(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const up = (i - 1) >> 1;
    if (heap[up]! <= value) break;
    heap[i] = heap[up]!;
    i = up;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const c = r < heap.length && heap[r]! < heap[l]! ? r : l;
    if (heap[c]! >= last) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = last;
  return top;
}
