/**
 * VictoriaMetrics and Prometheus (issue 15): a second entry of monitor/ (listed in its README),
 * for the server. VictoriaMetrics as a `HistoryBackend` (`VictoriaMetricsBackend`), Falcon's names
 * in Prometheus' vocabulary (`names.ts`), and the server's own figures in Prometheus' text format
 * (`figures.ts`: `ALARMS_SENT`). No heavy package: Node's fetch only.
 *
 * @example
 *   import { VictoriaMetricsBackend } from '../monitor/victoria/index.js';
 *   const vm = new VictoriaMetricsBackend({ url: 'http://127.0.0.1:8428' });
 *   await vm.write(points); // queued; sent in batches, retried while VictoriaMetrics is down
 *   await vm.query({ key, endpoint, metric, tags, counterType, from, to, resolution: 300 });
 */
export type { HistoryAnswer, HistoryBackend, HistoryQuery, HistoryRow, StoredPoint } from '../metrics/ports.js';
export { chooseResolution, MAX_ROWS, ROLLUP_RESOLUTIONS, VictoriaMetricsBackend } from './backend.js';
export { ALARMS_SENT, Counter, labelText, type Labels, renderSamples, type Sample } from './figures.js';
export { ENDPOINT_LABEL, METRIC_LABEL, prometheusName, seriesLabels, seriesSelector, STEP_LABEL, TAGS_LABEL } from './names.js';
export { BATCH_POINTS, MAX_BUFFERED_POINTS, type WriterOptions, type WriterStats } from './writer.js';
