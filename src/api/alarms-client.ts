/**
 * The API calls of alarms, silences and callbacks (issue 15), on an ApiClient.
 *
 * @example
 *   const { alarms } = await listAlarms(api, { status: 'all', selector: 'cop=acme' });
 */
import type { ApiClient } from './client.js';
import type { AlarmsView, AlarmView, CallbackInput, CallbackView, SilenceInput, SilenceView } from './alarms-types.js';
import { queryString } from './query.js';

/** What `GET /alarms` lists: a status, the node it is under, one series (its key), how many. */
export interface AlarmsQuery {
  /** `problem` (default: the series still in trouble), `ok` or `all` (the server refuses others) */
  status?: string;
  /** a selector or tag: the alarms of that node and beneath it */
  selector?: string;
  /** one series' alarms: its key (`seriesKey(endpoint, metric, tags)`) */
  key?: string;
  limit?: number;
}

/** `GET /alarms`: newest first, only those the token may see. */
export function listAlarms(api: ApiClient, q: AlarmsQuery = {}): Promise<AlarmsView> {
  return api.request('GET', `/alarms${queryString({ status: q.status, selector: q.selector, key: q.key, limit: q.limit })}`);
}

/** `POST /alarms/:id/ack`: the alarm, acknowledged by the token's name. */
export function ackAlarm(api: ApiClient, id: number): Promise<AlarmView> {
  return api.request('POST', `/alarms/${id}/ack`, {});
}

export function listSilences(api: ApiClient): Promise<{ silences: SilenceView[] }> {
  return api.request('GET', '/silences');
}

export function addSilence(api: ApiClient, input: SilenceInput): Promise<SilenceView> {
  return api.request('POST', '/silences', input);
}

export function removeSilence(api: ApiClient, id: number): Promise<SilenceView> {
  return api.request('DELETE', `/silences/${id}`);
}

export function listCallbacks(api: ApiClient): Promise<{ callbacks: CallbackView[] }> {
  return api.request('GET', '/alarm-callbacks');
}

export function addCallback(api: ApiClient, input: CallbackInput): Promise<CallbackView> {
  return api.request('POST', '/alarm-callbacks', input);
}

export function removeCallback(api: ApiClient, id: number): Promise<CallbackView> {
  return api.request('DELETE', `/alarm-callbacks/${id}`);
}
