/**
 * History's resolutions, as Falcon's graph keeps them (modules/graph/rrdtool/rrdtool.go: for a
 * 60 s step, AVERAGE at the step for 720 points, then AVERAGE, MAX and MIN at 5 steps for 576
 * points, 20 steps for 504, 180 steps for 766 and 720 steps for 730). noops keeps the raw points
 * (12 h by default) and fixed archives in seconds, so every step gets the same buckets:
 *
 *   archive   bucket     kept            Falcon's
 *   raw       the step   12 h            1 step x 720
 *   5 min     300 s      2 days          5 steps x 576
 *   20 min    1200 s     7 days          20 steps x 504
 *   3 h       10800 s    ~96 days        180 steps x 766
 *   12 h      43200 s    1 year          720 steps x 730
 *
 * Pure: the choices of the history query and the rollup, tested with exact equality.
 */
import type { CounterType } from '../../api/index.js';
import type { HistoryRow } from './ports.js';

/** One archive: its bucket (s), how long its buckets are kept (s), and what it is rolled from. */
export interface Archive {
  resolution: number;
  keepSeconds: number;
  /** 'raw' points, or the resolution of a finer archive */
  from: 'raw' | number;
}

/** Raw points kept by default: 12 h, Falcon's 720 points of a 60 s step. */
export const DEFAULT_RAW_RETENTION_SECONDS = 12 * 3600;

/** Falcon's archives, finest first (see the file's comment). */
export const ARCHIVES: readonly Archive[] = [
  { resolution: 300, keepSeconds: 576 * 300, from: 'raw' },
  { resolution: 1200, keepSeconds: 504 * 1200, from: 300 },
  { resolution: 10800, keepSeconds: 766 * 10800, from: 1200 },
  { resolution: 43200, keepSeconds: 730 * 43200, from: 10800 },
];

/** The most points a history answer holds when no resolution is asked. */
export const MAX_POINTS = 1000;

/**
 * What history shows for a point: a GAUGE's value; a COUNTER's or DERIVE's rate per second since
 * the series' previous point, or null for the first point, a reset (a lower value: Falcon's RRD
 * files have a minimum of 0 for both), or no previous point. `previous`: the series' last point as
 * its row holds it (store MetricSeriesRow, the ingestion's LatestPoint).
 */
export function graphValue(
  counterType: CounterType,
  value: number,
  ts: number,
  previous: { lastTs: number; lastValue: number } | undefined,
): number | null {
  if (counterType === 'GAUGE') return value;
  if (previous === undefined || ts <= previous.lastTs) return null;
  const rate = (value - previous.lastValue) / (ts - previous.lastTs);
  return rate < 0 ? null : rate;
}

/** Which archive answers a query: `'raw'` or an archive's resolution, and the bucket of the answer. */
export interface ResolutionChoice {
  source: 'raw' | number;
  /** seconds per row of the answer */
  resolution: number;
}

/**
 * Chooses where a query is answered from. Asked (`wanted`): raw at or below the step, otherwise
 * the coarsest archive not coarser than asked, re-bucketed to it. Not asked: the finest source
 * that still holds `from` and gives at most MAX_POINTS rows.
 */
export function chooseResolution(
  q: { from: number; to: number; step: number; wanted?: number },
  now: number,
  rawRetention: number = DEFAULT_RAW_RETENTION_SECONDS,
): ResolutionChoice {
  const step = Math.max(1, q.step);
  if (q.wanted !== undefined) {
    if (q.wanted <= step) return { source: 'raw', resolution: step };
    let source: 'raw' | number = 'raw';
    for (const a of ARCHIVES) if (a.resolution <= q.wanted) source = a.resolution;
    return { source, resolution: q.wanted };
  }
  const span = Math.max(0, q.to - q.from);
  if (q.from >= now - rawRetention && span / step <= MAX_POINTS) return { source: 'raw', resolution: step };
  for (const a of ARCHIVES) {
    if (a.resolution < step) continue;
    if (q.from >= now - a.keepSeconds && span / a.resolution <= MAX_POINTS) return { source: a.resolution, resolution: a.resolution };
  }
  // beyond every archive's reach, or too many rows even at the coarsest: the coarsest, re-bucketed
  const last = ARCHIVES[ARCHIVES.length - 1]!;
  const resolution = Math.max(last.resolution, Math.ceil(span / MAX_POINTS / last.resolution) * last.resolution);
  return { source: last.resolution, resolution };
}

/**
 * Groups rows into buckets of `resolution` (aligned to it): averages weighted by `counts` (one
 * each when not given), minima of minima, maxima of maxima. Rows already at that bucket pass.
 */
export function rebucket(rows: readonly HistoryRow[], resolution: number, counts?: readonly number[]): HistoryRow[] {
  const out: HistoryRow[] = [];
  let bucket = Number.NaN;
  let sum = 0;
  let weight = 0;
  let min = 0;
  let max = 0;
  const close = () => {
    if (weight > 0) out.push([bucket, sum / weight, min, max]);
  };
  for (let i = 0; i < rows.length; i++) {
    const [ts, avg, lo, hi] = rows[i]!;
    const b = ts - (((ts % resolution) + resolution) % resolution);
    const w = counts?.[i] ?? 1;
    if (b !== bucket) {
      close();
      bucket = b;
      sum = 0;
      weight = 0;
      min = lo;
      max = hi;
    }
    sum += avg * w;
    weight += w;
    if (lo < min) min = lo;
    if (hi > max) max = hi;
  }
  close();
  return out;
}

/**
 * The buckets of `archive` a rollup recomputes at `now` (s): from its watermark (or, the first
 * time, as far back as its source holds) to the current bucket included, so a late point and
 * the bucket still filling are both counted. Both ends are multiples of the resolution.
 */
export function rollupWindow(
  archive: Archive,
  watermark: number | undefined,
  now: number,
  rawRetention: number = DEFAULT_RAW_RETENTION_SECONDS,
): { from: number; to: number } {
  const r = archive.resolution;
  const sourceKeeps = archive.from === 'raw' ? rawRetention : (ARCHIVES.find((a) => a.resolution === archive.from)?.keepSeconds ?? 0);
  const earliest = now - sourceKeeps;
  // a point may arrive late (an agent's queue, a slow push): the last bucket before the current one is rolled again
  const from = Math.max(earliest, Math.min(watermark ?? earliest, now - r));
  const start = from - (from % r);
  const end = now - (now % r) + r;
  return { from: start, to: end };
}
