/**
 * What the judge loop takes from the other parts of monitor/ (issue 15), as the little it needs:
 * the judge (judge/), the stored points (metrics/), the strategies of the tree (strategies/).
 * The server wires the real ones (server/monitor-wiring.ts); tests give small fakes.
 */
import type { FalconPoint } from '../../api/index.js';
import type { JudgeEvent, JudgePoint, JudgeStrategy } from '../judge/types.js';
import type { PointFeed } from '../metrics/ports.js';

/** The judge (judge/Judge). */
export interface JudgePort {
  /** `key`: the series' key (api seriesKey), when the caller has it */
  push(point: JudgePoint, nowSeconds: number, candidates: readonly JudgeStrategy[], key?: string): JudgeEvent[];
  /** the series' number, given on first sight (with `pushSeries`: the loop then keeps per series what it resolved) */
  seriesId?(key: string): number;
  /**
   * the series' number by the store's series id (FeedPoint.seriesId), the key for its first
   * sight: what the loop calls per point when the feed gives ids (no string hashed per point)
   */
  seriesOf?(storeId: number, key: string): number;
  /** `push` for a series by its number and key */
  pushSeries?(series: number, key: string, point: JudgePoint, nowSeconds: number, candidates: readonly JudgeStrategy[]): JudgeEvent[];
  seed(seriesKey: string, points: readonly JudgePoint[]): void;
  seedLastEvent(event: JudgeEvent): void;
}

/** The stored points (metrics/PointFeed), and a series as the store last heard it. */
export type PointFeedPort = PointFeed;
export type { FeedCursor, SeenSeries } from '../metrics/ports.js';

/** A series' nodata rule (strategies/NodataRule): unheard for `afterSeconds`, it gets `mock` every `step` (default its own). */
export interface NodataRulePort {
  afterSeconds: number;
  mock: number;
  step: number | undefined;
}

/** The strategies of the tree (strategies/StrategyBook). */
export interface StrategyPort {
  forPoint(point: JudgePoint, now: Date): readonly JudgeStrategy[] | Promise<readonly JudgeStrategy[]>;
  /**
   * `forPoint` at once, and whether the answer holds for the series' later points until
   * `generation()` changes (strategies/StrategyBook.candidatesOf). With both, the loop asks once per series.
   */
  candidatesOf?(point: JudgePoint, now: Date): { strategies: readonly JudgeStrategy[]; holds: boolean };
  generation?(): number;
  maintenance(
    endpoint: string,
    tags: string,
    now: Date,
  ): { until: string; reason: string } | undefined | Promise<{ until: string; reason: string } | undefined>;
  /** the nodata rule of a series, if any */
  nodataFor(series: { endpoint: string; metric: string; tags: string }): NodataRulePort | undefined;
  /** the metrics some nodata rule names: nodata reads only their series, and nothing without a rule */
  nodataMetrics(): readonly string[];
  /** the node a strategy was set at (a canonical tag), when known */
  nodeOf(strategyId: string): string | undefined | Promise<string | undefined>;
}

/** True for a promise (what a port may answer instead of a value). */
export function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown } | undefined)?.then === 'function';
}

/** The ingestion (metrics/MetricsIngest.take): nodata's mock points go in as any push does. */
export interface IngestPort {
  take(points: readonly FalconPoint[], source: { kind: 'nodata' }): unknown;
}
