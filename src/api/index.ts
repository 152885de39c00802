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
export type * from './strategies-types.js';
export * from './strategies-client.js';
export * from './naming-types.js';
export { readDeps, resolveNames, type ResolveOptions } from './naming-client.js';
export type * from './alarms-types.js';
export * from './alarms-client.js';
export * from './balancers-types.js';
