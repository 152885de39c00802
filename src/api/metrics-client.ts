/**
 * The API client's metrics calls (issue 15), beside client.ts: Falcon's push, the series list
 * and a series' history.
 *
 * @example
 *   const client = new ApiClient(url, token);
 *   await pushMetrics(client, [{ endpoint: 'web-1', metric: 'app.qps', timestamp: now, step: 60, value: 12, counterType: 'GAUGE', tags: '' }]);
 *   const { series } = await listSeries(client, { host: 'web-1' });
 *   const history = await metricHistory(client, { key: series[0].key, from: now - 3600, to: now });
 */
import type { ApiClient } from './client.js';
import type { HistoryView, PushAnswer, SeriesList } from './metrics-types.js';
import { queryString as queryOf } from './query.js';

/** `POST /api/v1/push`: Falcon's push body (a list of points). */
export function pushMetrics(client: ApiClient, points: readonly unknown[]): Promise<PushAnswer> {
  return client.request('POST', '/push', points);
}

/** `GET /api/v1/metrics/series`: the series the caller may see, filtered. */
export function listSeries(
  client: ApiClient,
  filter: { selector?: string; host?: string; metric?: string; limit?: number } = {},
): Promise<SeriesList> {
  return client.request('GET', `/metrics/series${queryOf(filter)}`);
}

/** `GET /api/v1/metrics/history`: one series between two times (s); `resolution` 'raw' or seconds per row. */
export function metricHistory(
  client: ApiClient,
  q: { key: string; from?: number; to?: number; resolution?: 'raw' | number },
): Promise<HistoryView> {
  return client.request('GET', `/metrics/history${queryOf(q)}`);
}
