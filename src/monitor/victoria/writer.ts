/**
 * Points on their way to VictoriaMetrics: a bounded buffer drained in batches through
 * `POST /api/v1/import` (JSON lines, one line per series of a batch). Taking points never waits
 * on VictoriaMetrics: `add` only appends to the buffer. While VictoriaMetrics is down, batches are
 * retried with a growing delay and the buffer holds what is not sent yet; past its bound the
 * oldest points are dropped and counted (the embedded store keeps the whole history anyway).
 *
 * Why the JSON import and not `/api/v1/import/prometheus`: label values are JSON strings (no
 * escaping rules of the text format to get wrong for tags like `mount=/var/"x"`), timestamps are
 * exact milliseconds, and one line carries all of a series' points of a batch.
 */
import type { StoredPoint } from '../metrics/ports.js';
import { seriesLabels } from './names.js';

/** Points sent in one import request. */
export const BATCH_POINTS = 5000;
/** Points held while VictoriaMetrics does not take them (about 100 MB at most). */
export const MAX_BUFFERED_POINTS = 500_000;
/** The first retry after a failed import, doubled per failure up to RETRY_MAX_MS. */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30_000;
/** One import request's time limit. */
export const IMPORT_TIMEOUT_MS = 10_000;

/** What the writer did so far (for `GET /metrics` and tests). */
export interface WriterStats {
  /** points waiting to be sent */
  buffered: number;
  /** points VictoriaMetrics took */
  sent: number;
  /** points dropped because the buffer was full */
  dropped: number;
  /** import requests that failed (each retried) */
  failures: number;
  lastError?: string;
}

export interface WriterOptions {
  /** VictoriaMetrics' base URL (`http://127.0.0.1:8428`) */
  url: string;
  batchPoints?: number;
  maxBuffered?: number;
  retryFirstMs?: number;
  retryMaxMs?: number;
  /** a line for the server's log: the first failure of a streak and the recovery */
  log?: (line: string) => void;
}

/** The bounded, retrying writer. `close()` stops it (what is buffered then is not sent). */
export class VictoriaWriter {
  private readonly importUrl: string;
  private readonly batchPoints: number;
  private readonly maxBuffered: number;
  private readonly retryFirstMs: number;
  private readonly retryMaxMs: number;
  private readonly log: (line: string) => void;
  /** oldest first; `head` is the index of the next one to send (compacted as it advances) */
  private buffer: StoredPoint[] = [];
  private head = 0;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private closed = false;
  private readonly counts = { sent: 0, dropped: 0, failures: 0 };
  private lastError: string | undefined;

  constructor(opts: WriterOptions) {
    this.importUrl = `${opts.url.replace(/\/+$/, '')}/api/v1/import`;
    this.batchPoints = opts.batchPoints ?? BATCH_POINTS;
    this.maxBuffered = opts.maxBuffered ?? MAX_BUFFERED_POINTS;
    this.retryFirstMs = opts.retryFirstMs ?? RETRY_FIRST_MS;
    this.retryMaxMs = opts.retryMaxMs ?? RETRY_MAX_MS;
    this.log = opts.log ?? ((line) => process.stderr.write(line));
  }

  /** Queues points to send; never waits on VictoriaMetrics. */
  add(points: readonly StoredPoint[]): void {
    if (this.closed || points.length === 0) return;
    for (const p of points) this.buffer.push(p);
    const over = this.buffer.length - this.head - this.maxBuffered;
    if (over > 0) {
      this.head += over;
      this.counts.dropped += over;
    }
    if (!this.sending) this.compact();
    if (this.retryMs === 0) this.kick();
  }

  stats(): WriterStats {
    return { buffered: this.buffer.length - this.head, ...this.counts, ...(this.lastError !== undefined && { lastError: this.lastError }) };
  }

  /** Sends what is buffered now; resolves when the buffer is empty or an import failed. */
  async flush(): Promise<void> {
    this.kick();
    while (this.sending) await this.sending;
  }

  /** Stops sending; an import in flight ends first. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.sending;
  }

  private kick(): void {
    if (this.closed || this.sending || this.buffer.length === this.head) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (!this.closed && this.buffer.length > this.head) {
      const start = this.head;
      const batch = this.buffer.slice(start, start + this.batchPoints);
      try {
        await this.post(batch);
      } catch (err) {
        this.counts.failures++;
        this.lastError = (err as Error).message;
        if (this.retryMs === 0)
          this.log(`noops server: VictoriaMetrics did not take ${batch.length} point(s), retrying: ${this.lastError}\n`);
        this.retryMs = this.retryMs === 0 ? this.retryFirstMs : Math.min(this.retryMs * 2, this.retryMaxMs);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.retryMs);
        this.timer.unref();
        return;
      }
      // points dropped while the batch was in flight moved `head` past some of it
      this.head = Math.max(this.head, start + batch.length);
      this.counts.sent += batch.length;
      if (this.retryMs !== 0) this.log('noops server: VictoriaMetrics takes points again\n');
      this.retryMs = 0;
      this.compact();
    }
  }

  /** Forgets sent and dropped points (only between imports: a batch in flight holds indexes). */
  private compact(): void {
    if (this.buffer.length === this.head) {
      this.buffer = [];
      this.head = 0;
    } else if (this.head > 65_536 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }

  private async post(batch: readonly StoredPoint[]): Promise<void> {
    const res = await fetch(this.importUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: importBody(batch),
      signal: AbortSignal.timeout(IMPORT_TIMEOUT_MS),
    });
    if (!res.ok) {
      const text = (await res.text()).slice(0, 300);
      throw new Error(`HTTP ${res.status} from ${this.importUrl}: ${text}`);
    }
    await res.arrayBuffer();
  }
}

/** Series whose labels (as JSON) are remembered: past this, the memory starts over. */
const LABEL_CACHE_SERIES = 200_000;
const labelCache = new Map<string, string>();

/** A series' labels as JSON, remembered: building them is most of an import's cost. */
function labelsJson(p: StoredPoint, id: string): string {
  let json = labelCache.get(id);
  if (json === undefined) {
    if (labelCache.size >= LABEL_CACHE_SERIES) labelCache.clear();
    json = JSON.stringify(seriesLabels(p));
    labelCache.set(id, json);
  }
  return json;
}

/** JSON lines for `/api/v1/import`: one line per series, its points' values and timestamps (ms). */
export function importBody(points: readonly StoredPoint[]): string {
  const bySeries = new Map<string, { p: StoredPoint; values: number[]; timestamps: number[] }>();
  for (const p of points) {
    const id = `${p.key}\u0000${p.step}`;
    let s = bySeries.get(id);
    if (!s) bySeries.set(id, (s = { p, values: [], timestamps: [] }));
    s.values.push(p.value);
    s.timestamps.push(p.timestamp * 1000);
  }
  const lines: string[] = [];
  for (const [id, s] of bySeries)
    lines.push(
      `{"metric":${labelsJson(s.p, id)},"values":[${s.values.map(jsonNumber).join(',')}],"timestamps":[${s.timestamps.join(',')}]}\n`,
    );
  return lines.join('');
}

/** A value as JSON: a number that JSON cannot hold (NaN, Infinity) as null, which VictoriaMetrics skips. */
function jsonNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}
