/**
 * The tables as kysely sees them: snake_case columns, JSON fields as text, times as ISO text.
 * `rows.ts` turns these into the camelCase rows of `types.ts` and back.
 *
 * This describes the schema after the latest migration; `migrations.ts` is what makes it.
 */
import type { Generated, Selectable } from 'kysely';
import type { InstanceRow } from './types.js';
import type { PackageBlobChunksTable, PackageBlobsTable } from './package-blobs.js';
import type { HostReportsTable } from './host-reports.js';
import type { NamingLookupsTable } from './naming.js';
import type { PlacementEventsTable, StaleCopiesTable } from './placements.js';
import type { RebalanceRequestsTable, ScheduleVacatingTable } from './schedule-leader.js';
import type { BalancerDrainsTable, BalancerReportsTable, BalancersTable } from './balancers.js';
import type { NetworkSubnetsTable, NetworkTable } from './networks.js';
import type { AlarmCallbacksTable, AlarmDeliveriesTable, AlarmEventsTable, AlarmSilencesTable } from './alarms.js';
import type { AgentCommandOutputTable, AgentCommandsTable } from './agent-commands.js';
import type { MetricPointsTable, MetricRollupsTable, MetricSeriesTable } from './metrics.js';
import type { MaintenanceTable, NodataRulesTable, StrategiesTable } from './strategies.js';

export interface TokensTable {
  hash: string;
  kind: string;
  name: string;
  scope: string | null;
  created_at: string;
  /** viewer | deployer | admin for team tokens; null for the others */
  role: string | null;
  expires_at: string | null;
  /** join tokens: how many joins are left; null = no limit */
  uses_left: number | null;
  created_by: string | null;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface NodesTable {
  tag: string;
  level: string;
  parent: string | null;
  created_at: string;
}

export interface HostsTable {
  name: string;
  /** JSON object */
  labels: string;
  address: string | null;
  joined_at: string;
  last_heartbeat: string | null;
  /** the node of the tree the host belongs to; null = unassigned (only the admin may use it) */
  scope: string | null;
  /** JSON: a join under this name that was refused because the host is live ({at, address, labels}) */
  pending_join: string | null;
  /** until when a join under this name may replace the host (set by `noops host approve`) */
  join_approved_until: string | null;
  /** JSON: what the host offers, as its agent last reported it (store/schedule.ts, 0022_capacity); null until it does */
  capacity: string | null;
  /** 1 while the host is draining (`noops host drain`), else 0 */
  draining: Generated<number>;
  /** the URL its agent said at join that peers reach it at (`--peer-url`, 0032); null: the address it is seen at */
  peer_url: string | null;
}

export interface ClustersTable {
  tag: string;
  /** JSON array of host names */
  hosts: string;
  /** JSON object */
  policy: string;
  conf: string | null;
  updated_at: string;
  /** JSON: a scheduled cluster's spec (store/schedule.ts, 0022_capacity); null: hosts named by hand */
  schedule: string | null;
  /** JSON `{host: count}` of the hosts with more than one replica (store/replicas.ts, 0028); null: none */
  replicas: string | null;
}

export interface ReleasesTable {
  /** insertion order; breaks ties between equal created_at */
  id: Generated<number>;
  job: string;
  version: string;
  commit: string;
  repo: string;
  sha256: string;
  /** bigint column: a string on PostgreSQL, a number on SQLite */
  size: number | string;
  /** JSON object */
  manifest: string;
  build_id: number | null;
  created_at: string;
  /** base64 Ed25519 signature (0009_signatures); null: not signed */
  signature: string | null;
  /** the id of the key that made `signature` */
  signature_key: string | null;
}

export interface BuildsTable {
  id: Generated<number>;
  repo: string;
  job: string;
  ref: string;
  status: string;
  version: string | null;
  initiator: string;
  started_at: string;
  ended_at: string | null;
  /** empty since 0007_limits: the log is in build_logs */
  log: string;
  error: string | null;
}

/** A piece of a build's log (0007_limits): appended, never rewritten; the middle of a long log is deleted. */
export interface BuildLogsTable {
  build_id: number;
  /** where the piece starts in the whole log as written (characters), gaps included */
  pos: number;
  chars: number;
  text: string;
}

export interface DeploymentsTable {
  id: Generated<number>;
  tag: string;
  version: string;
  kind: string;
  initiator: string;
  started_at: string;
  ended_at: string | null;
  /** JSON array */
  hosts: string;
  status: string;
  /** JSON object */
  previous: string;
  /** JSON object */
  host_results: string;
  /** JSON object */
  conf: string;
  message: string | null;
  deadline: string;
  /** JSON object: the rollout's plan and progress (0002) */
  progress: Generated<string>;
}

export interface DesiredTable {
  host: string;
  tag: string;
  version: string;
  sha256: string;
  /** JSON object; '' when `manifest_hash` names it (0035) */
  manifest: string;
  /** base64url sha256 of the manifest's JSON text, kept in desired_manifests (0035); null: `manifest` holds it */
  manifest_hash: string | null;
  deployment_id: number | null;
  updated_at: string;
  /** 'deploy' | 'rollback' | null (0002) */
  kind: string | null;
  /** 'process' | 'container' | null (0021) */
  driver: string | null;
  /** copies of each process on the host; null: one (0028) */
  replicas: number | null;
}

export interface DesiredGenerationTable {
  host: string;
  generation: number;
}

/** `startedAt` -> `started_at`: a row's field name as its column's. */
type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S;

/** A row's columns: the same fields with the same types, in snake_case. */
export type ColumnsOf<Row> = { [K in keyof Row & string as SnakeCase<K>]: Row[K] };

/**
 * One supervised process of one instance: `InstanceRow`'s fields as columns, derived so that the
 * two cannot drift (`InstanceRow` is in turn tied to the agent's report in src/monitor/shapes.ts).
 */
export type InstancesTable = ColumnsOf<InstanceRow>;

export interface AuditTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  target: string;
  /** JSON object */
  detail: string;
}

export interface RuntimesTable {
  name: string;
  version: string;
  sha256: string;
  /** bigint column: a string on PostgreSQL, a number on SQLite */
  size: number | string;
  platform: string;
  /** JSON object: { path: string[], env: Record<string, string> } */
  exports: string;
  root: string;
  created_by: string;
  created_at: string;
}

/** What an admin allowed on a subtree, e.g. processes that run as root. */
export interface GrantsTable {
  scope: string;
  /** 'root' */
  grant: string;
  created_by: string;
  created_at: string;
}

/** A secret's sealed value (AES-256-GCM, see src/secrets/cipher.ts): never in clear. */
export interface SecretsTable {
  /** canonical tag of the node it serves (and everything under it) */
  scope: string;
  name: string;
  /** `v1:` + base64(iv | tag | ciphertext) */
  sealed: string;
  /** the fingerprint of the key that sealed it */
  key_id: string;
  version: number;
  updated_by: string;
  updated_at: string;
  created_at: string;
}

/** A server alive on this database (issue 14; store/leases.ts). */
export interface ServersTable {
  id: string;
  /** the URL it serves */
  address: string;
  started_at: string;
  last_seen: string;
}

/** One control loop's lease: who leads it, since which epoch, until when (ms, the database's clock). */
export interface LeasesTable {
  loop: string;
  holder: string;
  epoch: number;
  expires_at: number;
}

/** Every table, by name. */
/** A deployment's per-host progress (0026, store/deployment-hosts.ts). */
export interface DeploymentHostsTable {
  deployment_id: number;
  host: string;
  /** JSON object: the host's part of the rollout's progress */
  progress: string;
  /** the host's result in words, as `host_results` holds it */
  result: string;
}

/** Desired rows' manifests, once per distinct manifest (0035, store/desired-manifests.ts). */
export interface DesiredManifestsTable {
  /** base64url sha256 of `manifest` */
  hash: string;
  /** JSON object */
  manifest: string;
  /** ISO time of the last write that named it */
  used_at: string;
}

export interface StagedPackagesTable {
  host: string;
  sha256: string;
  tag: string;
  version: string;
  /** ms since the epoch: staged until then (bigint column: a string on PostgreSQL, a number on SQLite) */
  until_ms: number | string;
}

export interface Database {
  tokens: TokensTable;
  meta: MetaTable;
  nodes: NodesTable;
  hosts: HostsTable;
  clusters: ClustersTable;
  releases: ReleasesTable;
  builds: BuildsTable;
  build_logs: BuildLogsTable;
  deployments: DeploymentsTable;
  deployment_hosts: DeploymentHostsTable;
  desired: DesiredTable;
  desired_manifests: DesiredManifestsTable;
  desired_generation: DesiredGenerationTable;
  staged_packages: StagedPackagesTable;
  instances: InstancesTable;
  host_reports: HostReportsTable;
  audit: AuditTable;
  runtimes: RuntimesTable;
  grants: GrantsTable;
  secrets: SecretsTable;
  servers: ServersTable;
  leases: LeasesTable;
  package_blobs: PackageBlobsTable;
  package_blob_chunks: PackageBlobChunksTable;
  agent_commands: AgentCommandsTable;
  agent_command_output: AgentCommandOutputTable;
  metric_series: MetricSeriesTable;
  metric_points: MetricPointsTable;
  metric_rollups: MetricRollupsTable;
  strategies: StrategiesTable;
  nodata_rules: NodataRulesTable;
  maintenance: MaintenanceTable;
  naming_lookups: NamingLookupsTable;
  alarm_events: AlarmEventsTable;
  alarm_silences: AlarmSilencesTable;
  alarm_callbacks: AlarmCallbacksTable;
  alarm_deliveries: AlarmDeliveriesTable;
  balancers: BalancersTable;
  balancer_drains: BalancerDrainsTable;
  balancer_reports: BalancerReportsTable;
  network: NetworkTable;
  network_subnets: NetworkSubnetsTable;
  placement_events: PlacementEventsTable;
  stale_copies: StaleCopiesTable;
  schedule_vacating: ScheduleVacatingTable;
  rebalance_requests: RebalanceRequestsTable;
}

export type DbToken = Selectable<TokensTable>;
export type DbNode = Selectable<NodesTable>;
export type DbHost = Selectable<HostsTable>;
export type DbCluster = Selectable<ClustersTable>;
export type DbRelease = Selectable<ReleasesTable>;
export type DbBuild = Selectable<BuildsTable>;
export type DbDeployment = Selectable<DeploymentsTable>;
export type DbDesired = Selectable<DesiredTable>;
export type DbInstance = Selectable<InstancesTable>;
export type DbAudit = Selectable<AuditTable>;
export type DbRuntime = Selectable<RuntimesTable>;
export type DbGrant = Selectable<GrantsTable>;
export type DbSecret = Selectable<SecretsTable>;
