/**
 * `noops server --victoria-metrics URL`: where metric history is written and read (issue 15).
 * Without the flag, the embedded store alone; with it, every point goes to both the embedded store
 * and VictoriaMetrics, and the history route reads from VictoriaMetrics. The ingestion and the
 * history route (the `history` part: src/monitor/metrics/, routes/metrics.ts) take the answer of
 * `historyBackends`; this file decides nothing else.
 *
 * @example
 *   const victoria = openVictoria(opts.victoriaMetrics, log); // undefined without the flag
 *   const { sinks, reader } = historyBackends({ embedded: storeHistory, victoria });
 *   new MetricsIngest({ ..., sinks }); // the store as ever, and VictoriaMetrics (its write only queues)
 *   // the history route: reader.query(q)
 */
import { NoopsError } from '../errors/index.js';
import { ALARMS_SENT, type HistoryBackend, POINTS_INGESTED, VictoriaMetricsBackend } from '../monitor/victoria/index.js';

/** The counters the ingestion and the alarms' delivery increment, shown by `GET /metrics`. */
export { ALARMS_SENT, POINTS_INGESTED };

/** Where history goes and comes from. */
export interface HistoryBackends {
  /**
   * the backends each stored batch of points is given to besides the embedded store (which
   * `MetricsIngest` writes itself): its `sinks` option. Empty without VictoriaMetrics.
   */
  sinks: HistoryBackend[];
  /** the one the history route reads from: VictoriaMetrics when configured, else the embedded store */
  reader: HistoryBackend;
}

/** The sinks and the reader, given the embedded store's backend and VictoriaMetrics (if configured). */
export function historyBackends(opts: { embedded: HistoryBackend; victoria?: HistoryBackend }): HistoryBackends {
  if (!opts.victoria) return { sinks: [], reader: opts.embedded };
  return { sinks: [opts.victoria], reader: opts.victoria };
}

/**
 * VictoriaMetrics at `url` (`--victoria-metrics`), or undefined without one. Nothing is asked of
 * it here: a VictoriaMetrics that is down when the server starts gets the points once it is up.
 * @throws NoopsError NOOPS_E_INPUT when `url` is not an http(s) URL
 */
export function openVictoria(url: string | undefined, log: (line: string) => void): VictoriaMetricsBackend | undefined {
  if (url === undefined) return undefined;
  checkVictoriaUrl(url);
  return new VictoriaMetricsBackend({ url, log });
}

/** Refuses what is not an http(s) base URL (`http://127.0.0.1:8428`). */
export function checkVictoriaUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search !== '' || parsed.hash !== '') {
    throw new NoopsError('NOOPS_E_INPUT', `--victoria-metrics "${url}" must be VictoriaMetrics' base URL, such as http://127.0.0.1:8428`);
  }
}
