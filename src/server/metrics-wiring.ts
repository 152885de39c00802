/**
 * Metrics on the server (issue 15): the ingestion every server runs (agents' reports, pushes,
 * nodata's mock values), the judge's feed, the history reader, and the history keeper that only
 * the leader of `LOOPS.history` runs (alone on SQLite, the one server leads).
 *
 *   Leadership gained(history) ──> keeper.start()   (roll up every minute, prune)
 *   Leadership lost(history)   ──> keeper.stop()
 */
import type { ChangeBus } from '../bus/index.js';
import { type Leadership, LOOPS } from '../lead/index.js';
import { type HistoryBackend, HistoryKeeper, MetricsIngest, type PointFeed, StoreHistory, StorePointFeed } from '../monitor/index.js';
import type { Store } from '../store/index.js';

/** What the routes use of metrics (`ctx.metrics`). */
export interface ServerMetrics {
  ingest: MetricsIngest;
  feed: PointFeed;
  /** where the history route reads from: the store, or VictoriaMetrics when configured */
  history: HistoryBackend;
}

/**
 * Builds and wires metrics. `sinks`: backends written besides the store (VictoriaMetrics);
 * `reader`: the one history is read from (default: the store's). Answers the parts and a close
 * (stores what waits, stops the keeper).
 */
export async function wireMetrics(w: {
  store: Store;
  bus: ChangeBus;
  leadership: Leadership;
  sinks?: readonly HistoryBackend[];
  reader?: HistoryBackend;
  rawRetentionSeconds?: number;
  log: (line: string) => void;
}): Promise<ServerMetrics & { close(): Promise<void> }> {
  const ingest = new MetricsIngest({ store: w.store, bus: w.bus, sinks: w.sinks, log: w.log });
  await ingest.load(); // the series' last points: a report repeated after a restart is dropped
  const keeper = new HistoryKeeper(w.store, { rawRetentionSeconds: w.rawRetentionSeconds, log: w.log });
  w.leadership.on('gained', (loop) => {
    if (loop === LOOPS.history) keeper.start();
  });
  w.leadership.on('lost', (loop) => {
    if (loop === LOOPS.history) void keeper.stop();
  });
  return {
    ingest,
    feed: new StorePointFeed(w.store),
    history: w.reader ?? new StoreHistory(w.store, w.rawRetentionSeconds),
    async close() {
      await keeper.stop();
      await ingest.close();
    },
  };
}
