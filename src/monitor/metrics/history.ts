/**
 * History in the embedded store: the `store` HistoryBackend (answers from raw points and the
 * archives, archives.ts) and the `HistoryKeeper`, which the leader of `LOOPS.history` runs every
 * ROLLUP_EVERY_MS: roll raw points into the 5-minute archive and each archive into the next,
 * then drop what is past its retention.
 */
import type { MetricsStore, Store } from '../../store/index.js';
import { ARCHIVES, chooseResolution, DEFAULT_RAW_RETENTION_SECONDS, rebucket, rollupWindow } from './archives.js';
import type { HistoryAnswer, HistoryBackend, HistoryQuery, HistoryRow, StoredPoint } from './ports.js';

/** How often the leader rolls up and prunes: the 5-minute archive's current bucket is at most this old. */
export const ROLLUP_EVERY_MS = 60_000;

type HistoryStore = Pick<MetricsStore, 'metricPointsBetween' | 'metricRollupsBetween'>;

/** History answered from the store (the default reader). Its `write` does nothing: the ingestion stores raw points itself. */
export class StoreHistory implements HistoryBackend {
  readonly name = 'store';

  constructor(
    private readonly store: HistoryStore,
    private readonly rawRetentionSeconds: number = DEFAULT_RAW_RETENTION_SECONDS,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async write(_points: readonly StoredPoint[]): Promise<void> {}

  /**
   * A series' history between two times, at the resolution asked (or one giving at most about
   * 1,000 rows): raw points as `[ts, v, v, v]`, archives as `[ts, avg, min, max]`; COUNTER and
   * DERIVE as rates per second (stored so by the ingestion).
   */
  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    const step = q.step ?? 60;
    const choice = chooseResolution({ from: q.from, to: q.to, step, wanted: q.resolution }, this.nowSeconds(), this.rawRetentionSeconds);
    if (choice.source === 'raw') {
      const rows: HistoryRow[] = (await this.store.metricPointsBetween(q.key, q.from, q.to)).map((p) => [p.ts, p.v, p.v, p.v]);
      return { resolution: choice.resolution, points: choice.resolution > step ? rebucket(rows, choice.resolution) : rows };
    }
    const from = q.from - (q.from % choice.source);
    const buckets = await this.store.metricRollupsBetween(q.key, choice.source, from, q.to);
    const rows: HistoryRow[] = buckets.map((b) => [b.ts, b.avg, b.min, b.max]);
    if (choice.resolution === choice.source) return { resolution: choice.resolution, points: rows };
    return {
      resolution: choice.resolution,
      points: rebucket(
        rows,
        choice.resolution,
        buckets.map((b) => b.count),
      ),
    };
  }
}

/** The watermark of one archive, in the store's `meta`. */
function watermarkKey(resolution: number): string {
  return `metrics.rollup.${resolution}`;
}

/** What one round of the keeper did. */
export interface KeeperRound {
  /** buckets written per archive */
  rolled: Record<number, number>;
  /** raw points and buckets dropped */
  pruned: number;
}

/**
 * Rolls up and prunes while this server leads `LOOPS.history` (server/metrics-wiring.ts starts and
 * stops it). The 5-minute archive is rolled every round; a coarser one only in the first round
 * after a bucket of its source closed (its newest bucket lags its source by at most one source
 * bucket, at spans where one of its rows is hours wide): at 10,000 agents each archive's
 * roll-up cost 100-220 ms of the one thread, every minute.
 */
export class HistoryKeeper {
  /** resolution -> the `now` of the round that last rolled that archive (this leadership) */
  private readonly rolledAt = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly store: Pick<Store, 'rollUpMetrics' | 'pruneMetrics' | 'getMeta' | 'setMeta'>,
    private readonly opts: {
      rawRetentionSeconds?: number;
      everyMs?: number;
      nowSeconds?: () => number;
      log?: (line: string) => void;
    } = {},
  ) {}

  /** One round at `now` (s): every archive rolled from its source over its window, then retention applied. */
  async runOnce(now: number = (this.opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))()): Promise<KeeperRound> {
    const raw = this.opts.rawRetentionSeconds ?? DEFAULT_RAW_RETENTION_SECONDS;
    const rolled: Record<number, number> = {};
    for (const archive of ARCHIVES) {
      const last = this.rolledAt.get(archive.resolution);
      if (archive.from !== 'raw' && last !== undefined && Math.floor(last / archive.from) === Math.floor(now / archive.from)) {
        rolled[archive.resolution] = 0;
        continue;
      }
      const stored = await this.store.getMeta(watermarkKey(archive.resolution));
      const { from, to } = rollupWindow(archive, stored === undefined ? undefined : Number(stored), now, raw);
      rolled[archive.resolution] = await this.store.rollUpMetrics(archive.resolution, archive.from, from, to);
      // the current bucket is still filling: the next round starts there
      await this.store.setMeta(watermarkKey(archive.resolution), String(now - (now % archive.resolution)));
      this.rolledAt.set(archive.resolution, now);
    }
    const pruned = await this.store.pruneMetrics(now - raw, new Map(ARCHIVES.map((a) => [a.resolution, now - a.keepSeconds])));
    return { rolled, pruned };
  }

  /** Starts a round now and every `everyMs` (the leader gained the loop). */
  start(): void {
    if (this.timer !== undefined) return;
    const round = () => {
      if (this.running !== undefined) return;
      this.running = this.runOnce()
        .catch((err: Error) =>
          (this.opts.log ?? ((l: string) => process.emitWarning(l)))(
            `history: rolling up failed (the next round tries again): ${err.message}`,
          ),
        )
        .finally(() => {
          this.running = undefined;
        });
    };
    round();
    this.timer = setInterval(round, this.opts.everyMs ?? ROLLUP_EVERY_MS);
    this.timer.unref();
  }

  /** Stops (the lease was lost, or the server stops); resolves once a running round ended. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
