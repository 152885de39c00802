/**
 * The chart's data, shaped for uPlot without I/O: a series' history rows (`[ts, avg, min, max]`)
 * into uPlot's columns with gaps as nulls, several series on one time axis, the time ranges the
 * page offers, and the alarms of a series as markers. Pure: unit-tested in Node.
 */
import { falconTagString, parseFalconTags } from '../api/index.js';

/** One row of `GET /api/v1/metrics/history`: seconds, then the average, minimum and maximum. */
export type HistoryRow = readonly [number, number, number, number];

/** uPlot's columns: times (seconds), then one array per line; null where there is no data. */
export type Columns = [number[], ...(number | null)[][]];

/** A gap wider than this many resolutions is drawn as a break in the line, not bridged. */
export const GAP_FACTOR = 1.5;

/**
 * A series' history as uPlot's columns `[ts, avg, min, max]`. Where two rows lie further apart
 * than GAP_FACTOR × `resolution`, a row of nulls is put one resolution after the first, so uPlot
 * breaks the line there instead of drawing across the missing points. Rows are sorted by time;
 * a row repeated at the same time keeps the last.
 *
 * @example
 *   toColumns([[0, 1, 1, 1], [60, 2, 2, 2], [300, 3, 3, 3]], 60)
 *   // [[0, 60, 120, 300], [1, 2, null, 3], [1, 2, null, 3], [1, 2, null, 3]]
 */
export function toColumns(rows: readonly HistoryRow[], resolution: number): Columns {
  const sorted = [...rows].sort((a, b) => a[0] - b[0]);
  const ts: number[] = [];
  const avg: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  for (const [t, a, lo, hi] of sorted) {
    const last = ts.length - 1;
    if (last >= 0 && ts[last] === t) {
      avg[last] = a;
      min[last] = lo;
      max[last] = hi;
      continue;
    }
    if (last >= 0 && resolution > 0 && t - ts[last]! > GAP_FACTOR * resolution) {
      ts.push(ts[last]! + resolution);
      avg.push(null);
      min.push(null);
      max.push(null);
    }
    ts.push(t);
    avg.push(finite(a));
    min.push(finite(lo));
    max.push(finite(hi));
  }
  return [ts, avg, min, max];
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/**
 * Whether the history is rolled up (each row an average of several points), so the chart shows
 * the min/max band: the answer's resolution is coarser than the series' step, or some row's
 * minimum and maximum differ.
 */
export function isRolledUp(rows: readonly HistoryRow[], resolution: number, step: number): boolean {
  if (step > 0 && resolution > step) return true;
  return rows.some((r) => r[2] !== r[3]);
}

/**
 * Several series' averages on one time axis (the union of their times), for one chart with a
 * line each: a series with no row at a time has null there, and its own gaps stay gaps.
 *
 * @example
 *   alignMany([[[0, 1, 1, 1]], [[60, 5, 5, 5]]], 60) // [[0, 60], [1, null], [null, 5]]
 */
export function alignMany(histories: readonly (readonly HistoryRow[])[], resolution: number): Columns {
  const each = histories.map((rows) => toColumns(rows, resolution));
  const times = [...new Set(each.flatMap((c) => c[0]))].sort((a, b) => a - b);
  const lines = each.map((c) => {
    const at = new Map<number, number | null>();
    c[0].forEach((t, i) => {
      at.set(t, c[1]![i] ?? null);
    });
    return times.map((t) => at.get(t) ?? null);
  });
  return [times, ...lines];
}

/** A time range in seconds, both ends included. */
export interface TimeRange {
  from: number;
  to: number;
}

/** The ranges the page offers, by the name the page and its address use. */
export const RANGES = { '15m': 900, '1h': 3600, '6h': 21_600, '1d': 86_400, '7d': 604_800, '30d': 2_592_000 } as const;

/** A range's name. */
export type RangeName = keyof typeof RANGES;

/** The range the charts start with. */
export const DEFAULT_RANGE: RangeName = '1h';

/**
 * The last `name` up to `nowSeconds`.
 *
 * @example
 *   lastRange('1h', 7200) // { from: 3600, to: 7200 }
 */
export function lastRange(name: RangeName, nowSeconds: number): TimeRange {
  const to = Math.floor(nowSeconds);
  return { from: to - RANGES[name], to };
}

/** True for a range name the page knows. */
export function isRangeName(text: string): text is RangeName {
  return Object.hasOwn(RANGES, text);
}

/**
 * The range a drag selected, in whole seconds, never narrower than `minSeconds` (a click without
 * a drag selects nothing: undefined).
 *
 * @example
 *   zoomTo(100.4, 200.7, 10) // { from: 100, to: 201 }
 */
export function zoomTo(left: number, right: number, minSeconds: number): TimeRange | undefined {
  if (!Number.isFinite(left) || !Number.isFinite(right)) return undefined;
  let from = Math.floor(Math.min(left, right));
  let to = Math.ceil(Math.max(left, right));
  if (to - from < minSeconds) {
    const mid = Math.round((from + to) / 2);
    from = mid - Math.ceil(minSeconds / 2);
    to = from + minSeconds;
  }
  return { from, to };
}

/** Tags as sorted `k=v,k=v`, whether the server sent them as that string or as an object. */
export function tagString(tags: string | Readonly<Record<string, string>> | null | undefined): string {
  if (!tags) return '';
  return falconTagString(typeof tags === 'string' ? parseFalconTags(tags) : { ...tags });
}

/** What of an alarm the chart needs (a subset of the API's AlarmView). */
export interface AlarmLike {
  id: string | number;
  endpoint: string;
  metric: string;
  tags: string | Readonly<Record<string, string>>;
  status: string;
  priority: number;
  /** seconds (Falcon's), or an ISO time */
  eventTime: number | string;
  note?: string | null;
}

/** One alarm drawn on a chart: a vertical line at its time. */
export interface AlarmMarker {
  id: string;
  /** seconds */
  ts: number;
  status: 'PROBLEM' | 'OK';
  priority: number;
  /** what the marker's tooltip and the list beside the chart say */
  label: string;
}

/** An alarm's time in seconds, from Falcon's seconds or an ISO time; NaN when it is neither. */
export function eventSeconds(t: number | string): number {
  if (typeof t === 'number') return t > 1e12 ? Math.floor(t / 1000) : t;
  const n = Number(t);
  if (t.trim() !== '' && Number.isFinite(n)) return eventSeconds(n);
  return Math.floor(Date.parse(t) / 1000);
}

/**
 * The alarms of one series (same endpoint, metric and tags) inside a range, oldest first, as
 * markers for its chart.
 *
 * @example
 *   alarmMarkers(alarms, { endpoint: 'h1', metric: 'cpu.idle', tags: '' }, { from: 0, to: 3600 })
 */
export function alarmMarkers(
  alarms: readonly AlarmLike[],
  series: { endpoint: string; metric: string; tags: string | Readonly<Record<string, string>> },
  range: TimeRange,
): AlarmMarker[] {
  const tags = tagString(series.tags);
  return alarms
    .filter((a) => a.endpoint === series.endpoint && a.metric === series.metric && tagString(a.tags) === tags)
    .map((a) => ({ a, ts: eventSeconds(a.eventTime) }))
    .filter(({ ts }) => Number.isFinite(ts) && ts >= range.from && ts <= range.to)
    .sort((x, y) => x.ts - y.ts)
    .map(({ a, ts }) => ({
      id: String(a.id),
      ts,
      status: a.status === 'OK' ? ('OK' as const) : ('PROBLEM' as const),
      priority: a.priority,
      label: `${a.status} P${a.priority}${a.note ? ` ${a.note}` : ''}`,
    }));
}

/**
 * A selector that holds a series' tags that are tree levels (cop, owt, pdl, service, job,
 * cluster): the alarms route narrows by it, and the page keeps the series' own alarms.
 */
export function selectorOfTags(tags: string | Readonly<Record<string, string>>, levels: readonly string[]): string {
  const pairs = parseFalconTags(tagString(tags));
  return levels
    .filter((l) => pairs[l] !== undefined && pairs[l] !== '')
    .map((l) => `${l}=${pairs[l]}`)
    .join(',');
}

/**
 * A number for the axis and the legend: short, without float noise.
 *
 * @example
 *   shortNumber(1234567) // '1.23M'
 *   shortNumber(0.000123) // '0.000123'
 *   shortNumber(1234.5) // '1235'
 */
export function shortNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${trim(n / 1e9, 3)}G`;
  if (abs >= 1e6) return `${trim(n / 1e6, 3)}M`;
  if (abs >= 1e4) return `${trim(n / 1e3, 3)}k`;
  return trim(n, 4);
}

function trim(n: number, digits: number): string {
  return String(Number(n.toPrecision(digits)));
}

/**
 * A history's resolution in seconds ('raw' and unknowns: the series' step).
 *
 * @example
 *   resolutionSeconds(300, 60) // 300
 *   resolutionSeconds('raw', 60) // 60
 */
export function resolutionSeconds(resolution: number | string, step: number): number {
  const n = typeof resolution === 'number' ? resolution : Number(resolution);
  return Number.isFinite(n) && n > 0 ? n : step;
}
