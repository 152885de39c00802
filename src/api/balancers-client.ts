/**
 * The API calls of load-balancer pools (issue 16), as functions taking an `ApiClient`.
 *
 * @example
 *   const api = new ApiClient(url, token);
 *   await setBalancer(api, 'shop', { selector: 'cop=acme,service=shop', host: 'lb1', driver: 'nginx', file: '/etc/nginx/conf.d/shop.conf' });
 *   (await showBalancer(api, 'shop')).members.map((m) => `${m.address}:${m.port} ${m.state}`);
 */
import type { ApiClient } from './client.js';
import type { BalancerShow, BalancerSpec, BalancerView } from './balancers-types.js';

function path(name: string): string {
  return `/balancers/${encodeURIComponent(name)}`;
}

/** `PUT /balancers/NAME`: adds or replaces a pool; answers it as stored. */
export function setBalancer(api: ApiClient, name: string, spec: BalancerSpec): Promise<BalancerView> {
  return api.request('PUT', path(name), spec);
}

/** `GET /balancers`: the pools the token may see, by name. */
export async function listBalancers(api: ApiClient): Promise<BalancerView[]> {
  return (await api.request<{ balancers: BalancerView[] }>('GET', '/balancers')).balancers;
}

/** `GET /balancers/NAME`: the pool, its members and its agent's last report. */
export function showBalancer(api: ApiClient, name: string): Promise<BalancerShow> {
  return api.request('GET', path(name));
}

/** `DELETE /balancers/NAME`: noops stops driving the pool (the balancer keeps what it has); answers the pool removed. */
export function removeBalancer(api: ApiClient, name: string): Promise<BalancerView> {
  return api.request('DELETE', path(name));
}
