/**
 * The API client's metrics calls (issue 15), beside client.ts: Falcon's push, the series list
 * and a series' history.
 *
 * @example
 *   const client = new ApiClient(url, token);
 *   await pushMetrics(client, [{ endpoint: 'web-1', metric: 'app.qps', timestamp: now, step: 60, value: 12, counterType: 'GAUGE', tags: '' }]);
 *   const series = await allSeries(client, { host: 'web-1' }); // every page
 *   const history = await metricHistory(client, { key: series[0].key, from: now - 3600, to: now });
 */
import type { ApiClient } from './client.js';
import type { HistoryView, PushAnswer, SeriesList, SeriesView } from './metrics-types.js';
import { queryString as queryOf } from './query.js';

/** `POST /api/v1/push`: Falcon's push body (a list of points). */
export function pushMetrics(client: ApiClient, points: readonly unknown[]): Promise<PushAnswer> {
  return client.request('POST', '/push', points);
}

/** Which series a list asks for. */
export interface SeriesFilter {
  selector?: string;
  host?: string;
  metric?: string;
}

/** `GET /api/v1/metrics/series`: one page of the series the caller may see, filtered; `next` when more follows. */
export function listSeries(client: ApiClient, filter: SeriesFilter & { limit?: number; cursor?: string } = {}): Promise<SeriesList> {
  return client.request('GET', `/metrics/series${queryOf({ ...filter })}`);
}

/** Every series the caller may see (at most `limit` when given), following the pages. */
export async function allSeries(client: ApiClient, filter: SeriesFilter & { limit?: number } = {}): Promise<SeriesView[]> {
  const { limit, ...rest } = filter;
  const out: SeriesView[] = [];
  let cursor: string | undefined;
  do {
    // the server answers at most its page's cap of what is left, and says where the rest starts
    const page = await listSeries(client, { ...rest, cursor, limit: limit === undefined ? undefined : limit - out.length });
    out.push(...page.series);
    cursor = page.next;
  } while (cursor !== undefined && (limit === undefined || out.length < limit));
  return out;
}

/** `GET /api/v1/metrics/history`: one series between two times (s); `resolution` 'raw' or seconds per row. */
export function metricHistory(
  client: ApiClient,
  q: { key: string; from?: number; to?: number; resolution?: 'raw' | number },
): Promise<HistoryView> {
  return client.request('GET', `/metrics/history${queryOf(q)}`);
}
