/**
 * The API calls of draining a host for the scheduler (issue 18), as functions taking an `ApiClient`.
 *
 * @example
 *   const api = new ApiClient(url, token);
 *   (await drainHost(api, 'web-3')).draining; // true: the scheduler moves what it placed there
 */
import type { ApiClient } from './client.js';
import type { HostView } from './types.js';

/** `POST /hosts/:name/drain`: the scheduler places nothing more on the host and moves what it placed elsewhere. */
export function drainHost(api: ApiClient, name: string): Promise<HostView> {
  return api.request('POST', `/hosts/${encodeURIComponent(name)}/drain`);
}

/** `POST /hosts/:name/undrain`: the host takes placements again. */
export function undrainHost(api: ApiClient, name: string): Promise<HostView> {
  return api.request('POST', `/hosts/${encodeURIComponent(name)}/undrain`);
}
