/**
 * The store: noops's state (tokens, the tree, hosts, clusters, releases, builds, deployments,
 * desired state, instances, audit) in SQLite or PostgreSQL, behind one `Store` interface.
 *
 * @example
 *   import { openStore } from '../store/index.js';
 *   const store = await openStore('sqlite:/var/lib/noops/noops.db');
 *   await store.setMeta('server.id', 'a1');
 *   await store.close();
 */
export type * from './types.js';
export type * from './agent-commands.js';
export type { MetricPointRow, MetricRollupRow, MetricSeriesFilter, MetricSeriesRow, MetricsStore, StoredMetricPoint } from './metrics.js';
export type * from './strategies.js';
export type { NamingLookupRow } from './naming.js';
export type { NewPlacementEvent, PlacementEventKind, PlacementEventRow, PlacementQuery, StaleCopyRow } from './placements.js';
export type { BalancerQueries, BalancerReportRow, BalancerRow, DrainRow, NewDrain } from './balancers.js';
export type { HostSubnetRow, NetworkRow, NetworkStore } from './networks.js';
export type { CapacityRow, ScheduleRow, ScheduleStore } from './schedule.js';
export type { RebalanceRequestRow, RebalanceResultRow, VacatingRow } from './schedule-leader.js';
export type { ReplicaStore } from './replicas.js';
export type { AlarmEventRow, AlarmFilter, AlarmStore, CallbackRow, DeliveryRow, NewAlarmEvent, SilenceRow } from './alarms.js';
export type { StoreTarget } from './open.js';
// one pure function (no database module loads with it): which of two reports of a host is the later
export { laterReport, type OrderedReport, type ReportOrder } from './report-order.js';
// opening a database (kysely, better-sqlite3, pg) is the named entry `store/open.ts`:
// `openStore`, `parseStoreUrl`, `MIGRATION_NAMES`.
