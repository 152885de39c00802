/**
 * Metric points into the server (design-15, step 2): from agents' reports, from Falcon's push
 * API and from nodata's mock values. `take` is synchronous and cheap (memory only):
 *
 *   take(points, source) ─ an agent's point for another endpoint: refused, counted
 *        │  timestamp aligned to the step; not newer than the series' last: dropped (a report repeats)
 *        │  the series' latest point kept in memory (GET /api/v1/metrics reads it)
 *        v
 *   pending ── every FLUSH_MS, or at once past FLUSH_POINTS ──> store.putMetrics (series + raw points)
 *                                                              ├─> bus `points` (wakes the judge's leader)
 *                                                              └─> every HistoryBackend sink (VictoriaMetrics)
 *
 * A failed store write keeps its points for the next flush (up to MAX_PENDING, the oldest
 * dropped and counted beyond): a database that blinks loses nothing.
 */
import { alignTimestamp, type FalconPoint, seriesKey } from '../../api/index.js';
import { CHANNELS, type ChangeBus } from '../../bus/index.js';
import type { MetricPointRow, MetricSeriesRow, MetricsStore } from '../../store/index.js';
import { graphValue } from './archives.js';
import { flat } from '../judge/rules.js';
import type { HistoryBackend, PointSource, StoredPoint } from './ports.js';

/** How often points go to the store: a report's points wait at most this long (the judge's delay). */
export const FLUSH_MS = 200;
/** Points past which a flush starts at once (one transaction of ~10 statements). */
export const FLUSH_POINTS = 5000;
/** Points kept for the store while it fails, before the oldest are dropped (~100 MB at most). */
export const MAX_PENDING = 500_000;

/**
 * A series' latest point, as kept in memory: the store's series row itself (`lastTs`, `lastValue`,
 * `lastReceived`), so what is loaded and what is written need no copying.
 */
export type LatestPoint = MetricSeriesRow;

/** What one `take` did with its points. */
export interface TakeOutcome {
  /** kept (and to be stored) */
  accepted: number;
  /** not newer than their series' last point */
  stale: number;
  /** an agent's points for another endpoint than its host */
  refused: number;
}

/** Counts since start, for logs and the server's own metrics. */
export interface IngestCounters {
  accepted: number;
  stale: number;
  refused: number;
  stored: number;
  failedWrites: number;
  dropped: number;
  sinkFailures: number;
}

export interface MetricsIngestOptions {
  store: Pick<MetricsStore, 'putMetrics' | 'listMetricSeries'>;
  /** told after each stored batch (CHANNELS.points) */
  bus?: ChangeBus;
  /** where points go besides the store (VictoriaMetrics); the store's own history reads the store */
  sinks?: readonly HistoryBackend[];
  /** ms since the epoch (tests) */
  now?: () => number;
  log?: (line: string) => void;
  flushMs?: number;
}

/** How many distinct names (endpoints, metrics, tag sets) `Names` shares before it starts over. */
const NAMES_KEPT = 1 << 17;

/**
 * One string per distinct name: a report's endpoint, metric and tags are new strings each time
 * they are parsed, and 10,000 hosts' series kept 50,000 copies of one cluster's tags (4.6 MB in a
 * heap snapshot of the fleet bench). Full, it starts over: sharing is lost, never a name.
 */
class Names {
  private readonly kept = new Map<string, string>();

  of(name: string): string {
    const shared = this.kept.get(name);
    if (shared !== undefined) return shared;
    if (this.kept.size >= NAMES_KEPT) this.kept.clear();
    this.kept.set(name, name);
    return name;
  }
}

/** See the file's comment. */
export class MetricsIngest {
  readonly counters: IngestCounters = { accepted: 0, stale: 0, refused: 0, stored: 0, failedWrites: 0, dropped: 0, sinkFailures: 0 };
  private readonly last = new Map<string, LatestPoint>();
  private readonly names = new Names();
  private pendingPoints: MetricPointRow[] = [];
  private pendingSeries = new Map<string, LatestPoint>();
  private pendingSink: StoredPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly flushMs: number;

  constructor(private readonly opts: MetricsIngestOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((line) => process.emitWarning(line));
    this.flushMs = opts.flushMs ?? FLUSH_MS;
  }

  /**
   * The key of a series as this ingestion keeps it (undefined for a series it does not hold): the
   * judge keeps the same string rather than a copy (JudgeOptions.keptKey). Flat: made so when
   * the series was first kept (or read from the store).
   */
  keptKey(key: string): string | undefined {
    return this.last.get(key)?.key;
  }

  /** Reads every stored series' last point, so a restarted server drops what it stored already. */
  async load(): Promise<void> {
    for (const s of await this.opts.store.listMetricSeries()) {
      const seen = this.last.get(s.key);
      if (seen !== undefined && seen.lastTs >= s.lastTs) continue;
      this.last.set(s.key, s);
    }
  }

  /**
   * Takes checked points (api/falcon.ts checkFalconPush, or an agent's report). An agent's point
   * for another endpoint than its host is refused; a point not newer than its series' last is
   * dropped; the rest are kept and stored within FLUSH_MS.
   *
   * @example
   *   ingest.take(checkFalconPush(body, now)!.points, { kind: 'push', by: 'team-web' });
   */
  take(points: readonly FalconPoint[], source: PointSource): TakeOutcome {
    const out: TakeOutcome = { accepted: 0, stale: 0, refused: 0 };
    const receivedAt = this.now();
    for (const p of points) {
      if (source.kind === 'agent' && p.endpoint !== source.host) {
        out.refused++;
        continue;
      }
      const ts = alignTimestamp(p.timestamp, p.step);
      const built = seriesKey(p.endpoint, p.metric, p.tags);
      const previous = this.last.get(built);
      if (previous !== undefined && ts <= previous.lastTs) {
        out.stale++;
        continue;
      }
      // the series' strings as first kept, not this report's copies (one of each per series)
      const same = previous !== undefined && previous.endpoint === p.endpoint && previous.metric === p.metric && previous.tags === p.tags;
      // a new series' key made flat once: the ingestion's Map and the judge's (keptKey) look it up
      const key = same ? previous.key : flat(built);
      const latest: LatestPoint = {
        key,
        endpoint: same ? previous.endpoint : this.names.of(p.endpoint),
        metric: same ? previous.metric : this.names.of(p.metric),
        tags: same ? previous.tags : this.names.of(p.tags),
        counterType: p.counterType,
        step: p.step,
        lastTs: ts,
        lastValue: p.value,
        lastReceived: receivedAt,
      };
      this.last.set(key, latest);
      this.pendingSeries.set(key, latest);
      this.pendingPoints.push({ key, ts, value: p.value, graphValue: graphValue(p.counterType, p.value, ts, previous), receivedAt });
      if (this.opts.sinks?.length)
        this.pendingSink.push({
          key,
          endpoint: p.endpoint,
          metric: p.metric,
          tags: p.tags,
          counterType: p.counterType,
          step: p.step,
          timestamp: ts,
          value: p.value,
        });
      out.accepted++;
    }
    this.counters.accepted += out.accepted;
    this.counters.stale += out.stale;
    this.counters.refused += out.refused;
    if (out.accepted > 0) this.schedule();
    return out;
  }

  /** Every series' latest point (this server's, and the store's as loaded at start). */
  latest(): LatestPoint[] {
    return [...this.last.values()];
  }

  /** Points waiting for the store. */
  get pending(): number {
    return this.pendingPoints.length;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.pendingPoints.length >= FLUSH_POINTS && this.flushing === undefined) {
      void this.flush();
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes what waits to the store, then tells the bus and the sinks. Resolves when written (or failed and kept). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.pendingPoints.length === 0) return;
    let stored = false;
    this.flushing = this.writeOnce()
      .then((ok) => {
        stored = ok;
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
    if (stored && this.pendingPoints.length >= FLUSH_POINTS) await this.flush();
  }

  private async writeOnce(): Promise<boolean> {
    const points = this.pendingPoints;
    const series = this.pendingSeries;
    const sink = this.pendingSink;
    this.pendingPoints = [];
    this.pendingSeries = new Map();
    this.pendingSink = [];
    const rows = [...series.values()];
    try {
      await this.opts.store.putMetrics(rows, points);
    } catch (err) {
      this.counters.failedWrites++;
      this.log(`metrics: storing ${points.length} point(s) failed, kept for the next try: ${(err as Error).message}`);
      this.keepForRetry(points, series, sink);
      if (!this.closed) this.schedule();
      return false;
    }
    this.counters.stored += points.length;
    if (this.opts.bus) await this.opts.bus.publish(CHANNELS.points, '').catch((err: Error) => this.log(`metrics: bus: ${err.message}`));
    for (const backend of this.opts.sinks ?? []) {
      try {
        await backend.write(sink);
      } catch (err) {
        this.counters.sinkFailures++;
        this.log(`metrics: writing ${sink.length} point(s) to ${backend.name} failed: ${(err as Error).message}`);
      }
    }
    return true;
  }

  private keepForRetry(points: MetricPointRow[], series: Map<string, LatestPoint>, sink: StoredPoint[]): void {
    this.pendingPoints = points.concat(this.pendingPoints);
    for (const [k, s] of series) if (!this.pendingSeries.has(k)) this.pendingSeries.set(k, s);
    this.pendingSink = sink.concat(this.pendingSink);
    const over = this.pendingPoints.length - MAX_PENDING;
    if (over > 0) {
      this.pendingPoints = this.pendingPoints.slice(over);
      this.pendingSink = this.pendingSink.slice(Math.max(0, this.pendingSink.length - MAX_PENDING));
      this.counters.dropped += over;
      this.log(`metrics: the store is failing; dropped the ${over} oldest point(s) waiting for it`);
    }
  }

  /** Stores what waits (one last try) and stops. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.closed = true;
    await this.flush();
  }
}
