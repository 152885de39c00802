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
  /** the series' step (s), so raw points are chosen when they are fine enough; 60 when not given */
  step?: number;
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

/** A stored point as the judge reads it back: its place in store order and when it was received. */
export interface FeedPoint extends StoredPoint {
  /** the point's place in store order (an id of `metric_points`) */
  id: number;
  /** ms since the epoch, when a server received it */
  receivedAt: number;
  /**
   * the store's number of the point's series (an id of `metric_series`), the same on every server
   * reading that store and for the series' life (SQLite's rowid, PostgreSQL's identity column:
   * store/series-ids.ts): the judge finds the series by it without hashing the key. Absent when
   * the store has none to give (a point read for seeding): the key serves then.
   */
  seriesId?: number;
}

/**
 * Where a reader of the feed is: the last id read and the ids below it not yet seen (on
 * PostgreSQL a lower id may commit after a higher one), each with when it was first missed (ms).
 * Opaque to its holder: pass back what `readSince` answered.
 */
export interface FeedCursor {
  after: number;
  missing: readonly { id: number; since: number }[];
}

/** A series as the store last heard it (for nodata). */
export interface SeenSeries {
  key: string;
  endpoint: string;
  metric: string;
  tags: string;
  step: number;
  counterType: CounterType;
  /** the last point's timestamp (s) and value */
  lastTs: number;
  lastValue: number;
  /** ms since the epoch, when a server last received a point of it */
  lastReceived: number;
}

/**
 * The stored points, for the judge's loop (monitor/metrics/feed.ts). At least once: a point may
 * come twice (a read after a PostgreSQL commit race), never not at all while it is kept; the
 * judge drops points not newer than a series' last itself.
 */
export interface PointFeed {
  /** a cursor after the newest point stored now: reading from it gives only points stored later */
  head(): Promise<FeedCursor>;
  /** points stored since `cursor` (undefined: from the oldest kept), in store order, at most `limit` */
  readSince(cursor: FeedCursor | undefined, limit?: number): Promise<{ points: FeedPoint[]; cursor: FeedCursor }>;
  /** the last `n` points of each of `keys`, oldest first; a series without points is absent */
  lastPointsMany(keys: readonly string[], n: number): Promise<Map<string, FeedPoint[]>>;
  /** every series stored (only those of `metrics` when given), with its last point and when it was last received */
  seriesSeen(metrics?: readonly string[]): Promise<SeenSeries[]>;
}

/** Who gave points to the ingestion: an agent's report (its host), a push (the token's name), nodata's mock values. */
export type PointSource = { kind: 'agent'; host: string } | { kind: 'push'; by: string } | { kind: 'nodata' };
