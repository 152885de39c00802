/**
 * The API calls of alarms, silences and callbacks (issue 15), on an ApiClient.
 *
 * @example
 *   const { alarms } = await listAlarms(api, { status: 'all', selector: 'cop=acme' });
 */
import type { ApiClient } from './client.js';
import type { AlarmsView, AlarmView, CallbackInput, CallbackView, SilenceInput, SilenceView } from './alarms-types.js';

/** `GET /alarms`: newest first; status `problem` (default), `ok` or `all`. */
export function listAlarms(api: ApiClient, q: { status?: string; selector?: string; limit?: number } = {}): Promise<AlarmsView> {
  const params = new URLSearchParams();
  if (q.status !== undefined) params.set('status', q.status);
  if (q.selector !== undefined) params.set('selector', q.selector);
  if (q.limit !== undefined) params.set('limit', String(q.limit));
  const qs = params.toString();
  return api.request('GET', `/alarms${qs ? `?${qs}` : ''}`);
}

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
