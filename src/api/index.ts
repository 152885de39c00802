/** The HTTP API: wire types and the typed client. The server's routes live in `server/`. */
export * from './types.js';
export * from './falcon.js';
export { ApiClient } from './client.js';
export type { RequestOptions } from './client.js';
export type { ClientTrust } from './transport.js';
export { encodeEvent, KEEP_ALIVE, readEvents, type ReadEvent } from './sse.js';
export { fetchFor, transportError, type Fetch } from './transport.js';
export { ServerList, parseServers, SERVER_LIST_HINT, type ServerChange } from './server-list.js';
export { ANSWER_TIMEOUT_MS } from './failover.js';
export type * from './metrics-types.js';
export { allSeries, listSeries, metricHistory, pushMetrics, type SeriesFilter } from './metrics-client.js';
export { DURATION_UNIT_MS, type DurationRules, type DurationUnit, parseDurationText } from './duration.js';
export type * from './strategies-types.js';
export * from './strategies-client.js';
export * from './naming-types.js';
export { readDeps, resolveNames, type ResolveOptions } from './naming-client.js';
export * from './deployment-types.js';
export {
  deploymentActionSummary,
  deploymentHosts,
  deploymentSummary,
  deploymentSummaryEvents,
  FALLBACK_POLL_MS,
  historySummaries,
  refusesSummary,
  startSummary,
  type SummaryOptions,
} from './deployment-client.js';
export * from './deployment-summary.js';
export { queryString } from './query.js';
export type * from './alarms-types.js';
export * from './alarms-client.js';
export * from './balancers-types.js';
export * from './containers-types.js';
export * from './volumes-types.js';
export * from './schedule-types.js';
export * from './schedule-spec.js';
export { drainHost, undrainHost } from './capacity-client.js';
export { setNetwork, showNetwork } from './network-client.js';
export { listVolumes, removeVolume } from './volumes-client.js';
export { hostAddressOf, plainAddress, processAddress, type HostAddressSource } from './addresses.js';
export { MAX_REPLICAS, REPLICA_SEPARATOR, replicaCount, replicaName, replicaOf } from './replicas.js';
export * from './balancers-client.js';
export { sendBalancerReports } from './agent-balancers-client.js';
export { clusterPlacements, clusterPlan, rebalance, scaleCluster } from './schedule-client.js';
