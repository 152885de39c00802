/**
 * Wire types of metrics (issue 15): Falcon's push answer, the series list and a series' history.
 * The console and `noops metrics` build on these exact shapes (design-15.md).
 */
import type { CounterType, InvalidPoint } from './falcon.js';

/** `POST /api/v1/push`'s answer: Falcon's counts, and noops' reason for each invalid item. */
export interface PushAnswer {
  message: 'ok';
  /** items in the push */
  total: number;
  /** items not taken (their reasons in `errors`) */
  invalid: number;
  /** ms the server took */
  latency: number;
  errors: InvalidPoint[];
}

/** One series: `GET /api/v1/metrics/series`. */
export interface SeriesView {
  key: string;
  endpoint: string;
  metric: string;
  /** `k=v,k=v` sorted by key */
  tags: string;
  counterType: CounterType;
  step: number;
  /** the last point's timestamp (s) and value as sent */
  lastTs: number;
  lastValue: number;
}

/** `GET /api/v1/metrics/series?selector=S&host=H&metric=M&limit=N&cursor=C`: a page, in key order. */
export interface SeriesList {
  series: SeriesView[];
  /** when more follows: the `cursor` of the next page (also in the `x-noops-next` header); absent on the last page */
  next?: string;
}

/** A row of history: `[ts, avg, min, max]` (at the raw resolution the three are the point's value). */
export type HistoryPoint = [number, number, number, number];

/** `GET /api/v1/metrics/history?key=KEY&from=SEC&to=SEC[&resolution=raw|300|1200|10800|43200|N]`. */
export interface HistoryView {
  key: string;
  endpoint: string;
  metric: string;
  tags: string;
  counterType: CounterType;
  /** seconds per row */
  resolution: number;
  /** oldest first; COUNTER and DERIVE as rates per second */
  points: HistoryPoint[];
}
