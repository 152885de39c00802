/**
 * `noops server --victoria-metrics URL`: where metric history is written and read (issue 15).
 * Without the flag, the embedded store alone; with it, every point goes to both the embedded store
 * and VictoriaMetrics, and the history route reads from VictoriaMetrics. The ingestion and the
 * history route (server/metrics-wiring.ts, routes/metrics.ts) take the answer of
 * `historyBackends`; this file decides nothing else.
 *
 * @example
 *   const victoria = openVictoria(opts.victoriaMetrics, log); // undefined without the flag
 *   await wireMetrics({ store, bus, leadership, ...historyBackends(victoria), log });
 *   // points: the store as ever, and VictoriaMetrics (its write only queues); history read from VictoriaMetrics
 */
import { NoopsError } from '../errors/index.js';
import { type HistoryBackend, VictoriaMetricsBackend } from '../monitor/victoria/index.js';

/** What `wireMetrics` takes besides the store: nothing without VictoriaMetrics. */
export interface HistoryBackends {
  /** the backends each stored batch is given to besides the store (which `MetricsIngest` writes itself) */
  sinks?: HistoryBackend[];
  /** the one the history route reads from (absent: the store's own history) */
  reader?: HistoryBackend;
}

/** With VictoriaMetrics: it is a sink besides the store, and the one history is read from. */
export function historyBackends(victoria: HistoryBackend | undefined): HistoryBackends {
  return victoria ? { sinks: [victoria], reader: victoria } : {};
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
