/**
 * What the judge loop takes from the other parts of monitor/ (issue 15), as the little it needs:
 * the judge (judge/), the stored points (metrics/), the strategies of the tree (strategies/).
 * The server wires the real ones (server/monitor-wiring.ts); tests give small fakes.
 */
import type { FalconPoint } from '../../api/index.js';
import type { JudgeEvent, JudgePoint, JudgeStrategy } from '../judge/types.js';
import type { StoredPoint } from '../metrics/ports.js';

/** The judge (judge/Judge). */
export interface JudgePort {
  push(point: JudgePoint, nowSeconds: number, candidates: readonly JudgeStrategy[]): JudgeEvent[];
  seed(seriesKey: string, points: readonly JudgePoint[]): void;
  seedLastEvent(event: JudgeEvent): void;
}

/** One series as the ingestion last saw it (metrics/PointFeed.seriesSeen). */
export interface SeenSeries {
  key: string;
  endpoint: string;
  metric: string;
  tags: string;
  step: number;
  /** the data time of its last point (seconds) */
  lastTs: number;
  /** when its last point was received (ms since the epoch) */
  receivedAt: number;
}

/** Stored points, in store order (metrics/PointFeed). */
export interface PointFeedPort {
  /** the points stored after `cursor` (from the start: undefined), and the cursor past them */
  readSince(cursor: string | undefined, limit: number): Promise<{ points: StoredPoint[]; cursor: string | undefined }>;
  /** the cursor past every point stored now */
  head(): Promise<string | undefined>;
  /** the last `n` points of each series, oldest first */
  lastPointsMany(keys: readonly string[], n: number): Promise<Map<string, StoredPoint[]>>;
  seriesSeen(): Promise<SeenSeries[]>;
}

/** A nodata rule (strategies/): a series of `metric` with `tags`, under `node`, unheard for `after` s gets `mock`. */
export interface NodataRulePort {
  /** the canonical tree tag it was set at */
  node: string;
  metric: string;
  tags: Record<string, string>;
  /** seconds */
  after: number;
  mock: number;
}

/** The strategies of the tree (strategies/StrategyBook). */
export interface StrategyPort {
  forPoint(point: JudgePoint, now: Date): readonly JudgeStrategy[] | Promise<readonly JudgeStrategy[]>;
  maintenance(
    endpoint: string,
    tags: string,
    now: Date,
  ): { until: string; reason: string } | undefined | Promise<{ until: string; reason: string } | undefined>;
  nodataRules(): readonly NodataRulePort[] | Promise<readonly NodataRulePort[]>;
  /** the node a strategy was set at (a canonical tag), when known */
  nodeOf(strategyId: string): string | undefined | Promise<string | undefined>;
}

/** The ingestion (metrics/MetricsIngest.take): nodata's mock points go in as any push does. */
export interface IngestPort {
  take(points: FalconPoint[], source: string): Promise<unknown>;
}
