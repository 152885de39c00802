/**
 * The API calls of the containers' address pool (issue 17), as functions taking an `ApiClient`.
 *
 * @example
 *   const api = new ApiClient(url, token);
 *   await setNetwork(api, { pool: '198.18.0.0/15', perHost: 24, driver: 'bridge', parent: null });
 *   (await showNetwork(api)).hosts; // [{ host: 'h1', subnet: '198.18.0.0/24' }, ...]
 */
import type { ApiClient } from './client.js';
import type { NetworkSpec, NetworkView } from './containers-types.js';

/** `PUT /network`: sets the pool (the server's admin only); answers it with the subnets given. */
export function setNetwork(api: ApiClient, spec: Partial<NetworkSpec> & Pick<NetworkSpec, 'pool' | 'perHost'>): Promise<NetworkView> {
  return api.request('PUT', '/network', spec);
}

/** `GET /network`: the pool and the subnets of the hosts the token may see (NOOPS_E_NETWORK_UNSET: none set). */
export function showNetwork(api: ApiClient): Promise<NetworkView> {
  return api.request('GET', '/network');
}
