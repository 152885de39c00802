/**
 * The agent's points on their way to the server: a bounded queue (a ring) whose oldest points
 * make room for new ones when it is full (counted, as `agent.points.dropped`). Each point leaves
 * once: a report takes a batch of the oldest (`take`), and only when the server accepted that
 * report (`settle(batch, 'accepted')`) are they gone; a failed report leaves them for the next. One
 * batch is out at a time: two reports in flight never carry the same point.
 *
 * @example
 *   const q = new PointQueue(20_000);
 *   q.push(points);
 *   const batch = q.take(2_000, 256 * 1024);       // undefined when empty or a batch is out
 *   try { await send(batch.points); q.settle(batch, 'accepted'); } catch { q.settle(batch, 'failed'); }
 */
import type { MetricSample } from '../../api/index.js';

/**
 * 20,000 points: five minutes of a busy host (about 1,800 points a minute: 280 of the host, 5 per
 * process of 200 processes, 500 pushed) while the server is away, in about 5 MB.
 */
export const QUEUE_MAX_POINTS = 20_000;

/** A report's share of the queue, oldest first. */
export interface PointBatch {
  readonly points: MetricSample[];
  /** the sequence number of its last point */
  readonly lastSeq: number;
}

/** The bytes a point takes in a report's JSON, near enough (field names and numbers ~ 120). */
export function pointBytes(p: MetricSample): number {
  return p.endpoint.length + p.metric.length + p.tags.length + 120;
}

/** See the file's comment. */
export class PointQueue {
  readonly #ring: (MetricSample | undefined)[];
  readonly #seqs: number[];
  #head = 0;
  #size = 0;
  #nextSeq = 1;
  #out: PointBatch | undefined;
  #dropped = 0;

  constructor(readonly max = QUEUE_MAX_POINTS) {
    this.#ring = new Array<MetricSample | undefined>(max);
    this.#seqs = new Array<number>(max).fill(0);
  }

  /** Points waiting (a batch that is out included, until it is settled). */
  get size(): number {
    return this.#size;
  }

  /** Points dropped since the agent started: the oldest, to make room, and those of a refused batch. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds points at the end; when full, the oldest are dropped (and counted). */
  push(points: readonly MetricSample[]): void {
    for (const p of points) {
      if (this.#size === this.max) {
        this.#ring[this.#head] = undefined;
        this.#head = (this.#head + 1) % this.max;
        this.#size--;
        this.#dropped++;
      }
      const at = (this.#head + this.#size) % this.max;
      this.#ring[at] = p;
      this.#seqs[at] = this.#nextSeq++;
      this.#size++;
    }
  }

  /**
   * The oldest points, at most `maxPoints` and about `maxBytes` (at least one point), for a
   * report; undefined when there are none or a batch is out already.
   */
  take(maxPoints: number, maxBytes: number): PointBatch | undefined {
    if (this.#out !== undefined || this.#size === 0) return undefined;
    const points: MetricSample[] = [];
    let bytes = 0;
    let lastSeq = 0;
    for (let i = 0; i < this.#size && points.length < maxPoints; i++) {
      const at = (this.#head + i) % this.max;
      const p = this.#ring[at]!;
      bytes += pointBytes(p);
      if (points.length > 0 && bytes > maxBytes) break;
      points.push(p);
      lastSeq = this.#seqs[at]!;
    }
    this.#out = { points, lastSeq };
    return this.#out;
  }

  /**
   * The report that carried `batch` was accepted (its points leave the queue) or not (they stay,
   * for the next report). `drop`: refused for its content; they leave, counted as dropped.
   */
  settle(batch: PointBatch, outcome: 'accepted' | 'failed' | 'drop'): void {
    if (this.#out !== batch) return;
    this.#out = undefined;
    if (outcome === 'failed') return;
    // the oldest may have been dropped meanwhile to make room: remove what is left of the batch
    while (this.#size > 0 && this.#seqs[this.#head]! <= batch.lastSeq) {
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.max;
      this.#size--;
      if (outcome === 'drop') this.#dropped++;
    }
  }
}
