/**
 * Where metric history goes and comes from (issue 15): the embedded store by default,
 * VictoriaMetrics when `noops server --victoria-metrics URL` names one. The ingestion writes to
 * every sink; the history route reads from the one configured for reading.
 */
import type { CounterType } from '../../api/index.js';

/** One point as stored: timestamp aligned to its step, tags sorted (api/falcon.ts). */
export interface StoredPoint {
  /** the series' key (api/falcon.ts seriesKey) */
  key: string;
  endpoint: string;
  metric: string;
  tags: string;
  counterType: CounterType;
  step: number;
  /** seconds */
  timestamp: number;
  value: number;
}

/** A request for one series' history between two times (seconds, inclusive). */
export interface HistoryQuery {
  key: string;
  endpoint: string;
  metric: string;
  tags: string;
  counterType: CounterType;
  from: number;
  to: number;
  /** seconds per point wanted; undefined: chosen so the answer holds at most about 1,000 points */
  resolution?: number;
}

/** `[ts, avg, min, max]`: at the raw resolution the three are the point's value. */
export type HistoryRow = [number, number, number, number];

/** A series' history; COUNTER and DERIVE as rates per second. */
export interface HistoryAnswer {
  /** seconds per point of the answer (the step, for raw points) */
  resolution: number;
  points: HistoryRow[];
}

/** A place metric history is written to and read from. */
export interface HistoryBackend {
  /** a name for logs and errors (`store`, `victoria-metrics`) */
  readonly name: string;
  write(points: readonly StoredPoint[]): Promise<void>;
  query(q: HistoryQuery): Promise<HistoryAnswer>;
}
