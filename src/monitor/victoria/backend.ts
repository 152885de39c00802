/**
 * VictoriaMetrics as a `HistoryBackend` (monitor/metrics/ports.ts): points go through the bounded,
 * retrying `VictoriaWriter`; history is read back with VictoriaMetrics' Prometheus query API.
 *
 * - raw resolution (a `resolution` up to the series' step, 0 included, or chosen for a short
 *   span): `GET /api/v1/export` gives the stored
 *   samples themselves; COUNTER and DERIVE become the rate between neighbours (a COUNTER going
 *   down is dropped, as Falcon does; a DERIVE may be negative);
 * - rolled up at R seconds: `GET /api/v1/query_range` with `step=R`, three queries
 *   `avg_over_time(S[R])`, `min_over_time(S[R])`, `max_over_time(S[R])`; a COUNTER is
 *   `X_over_time((increase_pure(S[STEP]) / STEP)[R:STEP])`: the rate of each step, then their
 *   avg/min/max, as Falcon's archives consolidate the rates (`rate(S[STEP])` would not do: with
 *   one sample in its window VictoriaMetrics smooths over two steps); a DERIVE the same with
 *   `ideriv` (a decrease is a negative rate, not a counter reset). Each row's timestamp is the
 *   start of its window `[ts, ts+R)`.
 */
import { NoopsError } from '../../errors/index.js';
import { ARCHIVES, MAX_POINTS } from '../metrics/archives.js';
import type { HistoryAnswer, HistoryBackend, HistoryQuery, HistoryRow, StoredPoint } from '../metrics/ports.js';
import { STEP_LABEL, seriesSelector } from './names.js';
import { VictoriaWriter, type WriterOptions, type WriterStats } from './writer.js';

/** The rolled-up resolutions: the embedded store's, Falcon's archives (seconds). */
export const ROLLUP_RESOLUTIONS: readonly number[] = ARCHIVES.map((a) => a.resolution);
/** An answer chosen for the caller holds at most about this many rows: as many as the embedded store's. */
export const MAX_ROWS = MAX_POINTS;
/** One query's time limit. */
export const QUERY_TIMEOUT_MS = 30_000;

/** VictoriaMetrics behind `noops server --victoria-metrics URL`. */
export class VictoriaMetricsBackend implements HistoryBackend {
  readonly name = 'victoria-metrics';
  readonly url: string;
  private readonly writer: VictoriaWriter;

  constructor(opts: WriterOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.writer = new VictoriaWriter(opts);
  }

  /** Queues the points; resolves at once (VictoriaMetrics down never holds the ingestion up). */
  async write(points: readonly StoredPoint[]): Promise<void> {
    this.writer.add(points);
  }

  /** What the writer sent, holds and dropped. */
  stats(): WriterStats {
    return this.writer.stats();
  }

  /** Sends what is buffered now (tests; a clean stop). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  async close(): Promise<void> {
    await this.writer.close();
  }

  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    const selector = seriesSelector(q);
    const step = await this.stepOf(selector, q.from, q.to);
    if (step === undefined) return { resolution: q.resolution ?? ROLLUP_RESOLUTIONS[0]!, points: [] };
    const resolution = chooseResolution(q, step);
    if (resolution <= step) return { resolution: step, points: await this.raw(selector, q, step) };
    return { resolution, points: await this.rolledUp(selector, q, step, resolution) };
  }

  /** The series' step (its smallest, if it was written with several); undefined: no such series. */
  private async stepOf(selector: string, from: number, to: number): Promise<number | undefined> {
    const body = (await this.get('/api/v1/series', { 'match[]': selector, start: String(from), end: String(to) })) as {
      data?: Record<string, string>[];
    };
    const steps = (body.data ?? []).map((labels) => Number(labels[STEP_LABEL])).filter((n) => Number.isInteger(n) && n > 0);
    return steps.length === 0 ? undefined : Math.min(...steps);
  }

  private async raw(selector: string, q: HistoryQuery, step: number): Promise<HistoryRow[]> {
    const counter = q.counterType !== 'GAUGE';
    // a rate at `from` needs the point before it
    const start = counter ? q.from - step : q.from;
    const text = await this.getText('/api/v1/export', { 'match[]': selector, start: String(start), end: String(q.to) });
    const samples = new Map<number, number>();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const s = JSON.parse(line) as { values: number[]; timestamps: number[] };
      for (let i = 0; i < s.timestamps.length; i++) samples.set(Math.round(s.timestamps[i]! / 1000), Number(s.values[i]));
    }
    const sorted = [...samples].sort((a, b) => a[0] - b[0]);
    const rows: HistoryRow[] = [];
    if (!counter) {
      for (const [ts, v] of sorted) if (ts >= q.from) rows.push([ts, v, v, v]);
      return rows;
    }
    for (let i = 1; i < sorted.length; i++) {
      const [ts, v] = sorted[i]!;
      const [prevTs, prev] = sorted[i - 1]!;
      if (ts < q.from || ts === prevTs) continue;
      const rate = (v - prev) / (ts - prevTs);
      if (q.counterType === 'COUNTER' && rate < 0) continue;
      rows.push([ts, rate, rate, rate]);
    }
    return rows;
  }

  private async rolledUp(selector: string, q: HistoryQuery, step: number, res: number): Promise<HistoryRow[]> {
    // per step: the increase since the point before (a reset counted from 0), or the signed change
    const inner =
      q.counterType === 'COUNTER'
        ? `increase_pure(${selector}[${step}s]) / ${step}`
        : q.counterType === 'DERIVE'
          ? `ideriv(${selector}[${step}s])`
          : '';
    const expr = (fn: string) => (inner === '' ? `${fn}(${selector}[${res}s])` : `${fn}((${inner})[${res}s:${step}s])`);
    // evaluated at ts+R-1: the window (ts-1, ts+R-1] holds the points of [ts, ts+R) (whole seconds)
    const first = q.from - (q.from % res);
    const params = { start: String(first + res - 1), end: String(q.to - (q.to % res) + res - 1), step: `${res}s` };
    const [avg, min, max] = await Promise.all(
      ['avg_over_time', 'min_over_time', 'max_over_time'].map((fn) => this.range(expr(fn), params)),
    );
    const rows: HistoryRow[] = [];
    for (const [t, a] of avg!) {
      const lo = min!.get(t);
      const hi = max!.get(t);
      if (lo === undefined || hi === undefined) continue;
      rows.push([t - res + 1, a, lo, hi]);
    }
    return rows.sort((x, y) => x[0] - y[0]);
  }

  /** One query_range: the values by timestamp (the series averaged if it was written with several steps). */
  private async range(query: string, params: Record<string, string>): Promise<Map<number, number>> {
    const body = (await this.get('/api/v1/query_range', { query, ...params })) as {
      data?: { result?: { values: [number, string][] }[] };
    };
    const sums = new Map<number, { sum: number; n: number }>();
    for (const series of body.data?.result ?? []) {
      for (const [t, v] of series.values) {
        const n = Number(v);
        if (!Number.isFinite(n)) continue;
        const s = sums.get(t) ?? { sum: 0, n: 0 };
        s.sum += n;
        s.n++;
        sums.set(t, s);
      }
    }
    return new Map([...sums].map(([t, s]) => [t, s.sum / s.n]));
  }

  private async get(path: string, params: Record<string, string>): Promise<unknown> {
    const text = await this.getText(path, params);
    try {
      return JSON.parse(text);
    } catch {
      throw unavailable(`${this.url}${path} answered what is not JSON: ${text.slice(0, 200)}`);
    }
  }

  private async getText(path: string, params: Record<string, string>): Promise<string> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
      });
    } catch (err) {
      throw unavailable(`VictoriaMetrics at ${this.url} did not answer: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) throw unavailable(`VictoriaMetrics at ${this.url} refused ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return text;
  }
}

/**
 * The resolution of an answer: the one asked for, else the finest of the step and Falcon's
 * archives that gives at most MAX_ROWS rows over the span.
 */
export function chooseResolution(q: Pick<HistoryQuery, 'from' | 'to' | 'resolution'>, step: number): number {
  if (q.resolution !== undefined) return q.resolution;
  const span = Math.max(0, q.to - q.from);
  for (const r of [step, ...ROLLUP_RESOLUTIONS]) if (r >= step && span / r <= MAX_ROWS) return r;
  return ROLLUP_RESOLUTIONS[ROLLUP_RESOLUTIONS.length - 1]!;
}

function unavailable(message: string): NoopsError {
  return new NoopsError('NOOPS_E_HISTORY_BACKEND', message);
}
