/**
 * The API calls of the scheduler (issue 18), as functions taking an `ApiClient`.
 *
 * @example
 *   const api = new ApiClient(url, token);
 *   (await clusterPlan(api, 'api_cluster.prod')).placements; // [{ host: 'h1', count: 1 }, ...]
 *   await scaleCluster(api, 'api_cluster.prod', 6);
 *   (await rebalance(api, { maxMoves: 5, dryRun: true })).moves;
 */
import type { ApiClient } from './client.js';
import type { ClusterPlanView, PlacementEventView, RebalanceView } from './schedule-types.js';

const enc = encodeURIComponent;

/** `GET /clusters/:tag/plan`: where each instance would go and why hosts are left out; nothing changes. */
export function clusterPlan(api: ApiClient, tag: string): Promise<ClusterPlanView> {
  return api.request('GET', `/clusters/${enc(tag)}/plan`);
}

/** `POST /clusters/:tag/scale`: sets the count; answers where the instances will go. */
export function scaleCluster(api: ApiClient, tag: string, count: number): Promise<ClusterPlanView> {
  return api.request('POST', `/clusters/${enc(tag)}/scale`, { count });
}

/** `POST /rebalance`: moves within `maxMoves` (made unless `dryRun`). */
export function rebalance(api: ApiClient, opts: { maxMoves?: number; dryRun?: boolean }): Promise<RebalanceView> {
  return api.request('POST', '/rebalance', opts);
}

/** `GET /clusters/:tag/placements`: the cluster's placements, migrations and moves, most recent first. */
export function clusterPlacements(
  api: ApiClient,
  tag: string,
  opts: { limit?: number; before?: number } = {},
): Promise<PlacementEventView[]> {
  const q = new URLSearchParams();
  if (opts.limit !== undefined) q.set('limit', String(opts.limit));
  if (opts.before !== undefined) q.set('before', String(opts.before));
  const s = q.toString();
  return api.request('GET', `/clusters/${enc(tag)}/placements${s ? `?${s}` : ''}`);
}
