/**
 * The monitoring routes the console reads (issue 15): series, their history, alarms (and their
 * acknowledgement) and the strategies of a node. Functions over the typed client, so a 401 signs
 * out as on every other call; the shapes are the ones docs/monitoring.md gives.
 *
 * @example
 *   const { series } = await metricSeries(api, { selector: 'cop=acme', metric: 'cpu.idle' });
 */
import type { ApiClient, HistoryView, SeriesView, StrategyView } from '../api/index.js';

/** One series: `GET /api/v1/metrics/series` (the API's wire type). */
export type MetricSeriesView = SeriesView;

/** One series' history: `GET /api/v1/metrics/history` (the API's wire type). */
export type MetricHistoryView = HistoryView;

/** One stored alarm event: `GET /api/v1/alarms`. */
export interface AlarmEventView {
  id: string | number;
  strategy: string | number | { id: string | number };
  endpoint: string;
  metric: string;
  tags: string | Record<string, string>;
  status: 'PROBLEM' | 'OK';
  currentStep: number;
  leftValue: number;
  /** seconds */
  eventTime: number | string;
  priority: number;
  note: string | null;
  /** who acknowledged it and when; null until someone does */
  acknowledged: { by: string; at: string } | boolean | string | null;
  func?: string;
  op?: string;
  right?: number;
  /** why it was not delivered (a silence or a maintenance window); null when delivered */
  silenced?: string | boolean | null;
  storedAt?: string;
  /** the node (selector) of the strategy that raised it */
  selector?: string;
}

/** One strategy: `GET /api/v1/strategies` (the API's wire type). */
export type StrategyRowView = StrategyView;

/** The alarms the list asks for: PROBLEM of series still in trouble (the default), OK, or every event. */
export type AlarmStatusFilter = 'problem' | 'ok' | 'all';

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Series by selector, host and metric (each optional). */
export function metricSeries(
  api: ApiClient,
  q: { selector?: string; host?: string; metric?: string; limit?: number },
): Promise<{ series: MetricSeriesView[] }> {
  return api.request('GET', `/metrics/series${query(q)}`);
}

/** A series' history between two times (seconds); the server picks the resolution unless asked. */
export function metricHistory(
  api: ApiClient,
  q: { key: string; from: number; to: number; resolution?: string },
): Promise<MetricHistoryView> {
  return api.request('GET', `/metrics/history${query(q)}`);
}

/** Alarms, newest first. */
export function alarmList(
  api: ApiClient,
  q: { status?: AlarmStatusFilter; selector?: string; limit?: number },
): Promise<{ alarms: AlarmEventView[] }> {
  return api.request('GET', `/alarms${query(q)}`);
}

/** Acknowledges one alarm. */
export function ackAlarm(api: ApiClient, id: string | number): Promise<unknown> {
  return api.request('POST', `/alarms/${encodeURIComponent(String(id))}/ack`, {});
}

/** The strategies of the nodes at and below a selector; '' lists every one the token sees. */
export function strategyList(api: ApiClient, selector: string): Promise<{ strategies: StrategyRowView[] }> {
  return api.request('GET', `/strategies${query({ selector })}`);
}

/** A history's resolution in seconds ('raw' and unknowns: the series' step). */
export function resolutionSeconds(resolution: number | string, step: number): number {
  const n = typeof resolution === 'number' ? resolution : Number(resolution);
  return Number.isFinite(n) && n > 0 ? n : step;
}

/** A strategy's id, whether the alarm holds it as an id or as the strategy itself. */
export function strategyId(s: AlarmEventView['strategy']): string {
  return typeof s === 'object' && s !== null ? String(s.id) : String(s);
}
