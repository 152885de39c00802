/**
 * The store's public contract: plain rows in, plain rows out. Two backends implement it
 * (SQLite through better-sqlite3, PostgreSQL through pg), both on one kysely query layer.
 *
 * Conventions: times are ISO-8601 strings in UTC (`new Date().toISOString()`), so they sort as
 * text on both backends; JSON-valued fields are plain objects here and stored as JSON text;
 * tags are canonical (root-first) strings made by `tree/`.
 */
import type { ReportOrder } from './report-order.js';
import type {
  AgentCommandChunk,
  AgentCommandPost,
  AgentCommandPostOutcome,
  AgentCommandRow,
  AgentCommandSweep,
  NewAgentCommand,
} from './agent-commands.js';
import type { StrategyQueries } from './strategies.js';
import type { BalancerQueries } from './balancers.js';
import type { NamingLookupRow } from './naming.js';
import type { NewPlacementEvent, PlacementEventRow, PlacementQuery, StaleCopyRow } from './placements.js';

/** A token. Only its sha256 is stored; the secret itself is shown once. */
export interface TokenRow {
  /** hex sha256 of the secret */
  hash: string;
  kind: 'admin' | 'join' | 'agent' | 'team';
  /** who holds it: 'admin', the agent's host name, a team name */
  name: string;
  /** for team tokens: the canonical tag of the subtree it may act on; null = everything */
  scope: string | null;
  createdAt: string;
  /** for team tokens: what it may do under its scope; null for the other kinds */
  role: TokenRole | null;
  /** after this time the token is refused; null = never */
  expiresAt: string | null;
  /** join tokens: how many more joins it allows; null = no limit */
  usesLeft: number | null;
  /** who made it: 'admin', a team token's name, or null for tokens the server made itself */
  createdBy: string | null;
}

/** What a team token may do under its scope, each including the one before. */
export type TokenRole = 'viewer' | 'deployer' | 'admin';

/** Something an admin allowed on a subtree. */
export interface GrantRow {
  /** canonical tag of the node it applies to (and everything under it) */
  scope: string;
  /** 'root': processes under the scope may run as root */
  grant: 'root';
  createdBy: string;
  createdAt: string;
}

/** A secret as stored: its value sealed by the server (the store never sees it in clear). */
export interface SecretRow {
  /** canonical tag of the node it serves (and everything under it) */
  scope: string;
  name: string;
  /** the value, encrypted (see src/secrets/cipher.ts) */
  sealed: string;
  /** the fingerprint of the key that sealed it */
  keyId: string;
  /** 1 when first set, one more at each set */
  version: number;
  updatedBy: string;
  updatedAt: string;
  createdAt: string;
}

/** A node of the service tree (cop.xiaomi, cop.xiaomi_owt.miliao, ...). */
export interface NodeRow {
  /** canonical tag of the node */
  tag: string;
  /** the level of its last pair: cop, owt, pdl, servicegroup, service, jobgroup, job, cluster */
  level: string;
  /** canonical tag of the parent, null for a cop */
  parent: string | null;
  createdAt: string;
}

/** A host: one joined agent. */
export interface HostRow {
  name: string;
  labels: Record<string, string>;
  /** the address the agent was seen from (informational) */
  address: string | null;
  joinedAt: string;
  /** null until the first heartbeat */
  lastHeartbeat: string | null;
  /** the node of the tree it belongs to (`noops host assign`); null: unassigned, only the admin may use it */
  scope: string | null;
  /** a join under this name that was refused because the host was live; an admin may approve it */
  pendingJoin: { at: string; address: string | null; labels: Record<string, string> } | null;
  /** until when a join under this name may replace the host (`noops host approve`) */
  joinApprovedUntil: string | null;
  /** what the host offers the scheduler, as its agent last reported it; absent until it does (store/schedule.ts) */
  capacity?: import('./schedule.js').CapacityRow;
  /** true while the host is draining (`noops host drain`); absent otherwise */
  draining?: true;
  /** the URL its agent said at join that peers reach it at (`--peer-url`, docs/packages-p2p.md); absent: none said */
  peerUrl?: string;
}

/** What `upsertHost` writes: the rest of a host's row is changed by `updateHost` only. */
export type HostJoin = Pick<HostRow, 'name' | 'labels' | 'address' | 'joinedAt' | 'peerUrl'>;

/** A cluster: a named set of hosts that run one job. */
export interface ClusterRow {
  /** canonical tag ending in cluster.NAME */
  tag: string;
  hosts: string[];
  /** deploy policy and other cluster.conf keys, as given (validated by the caller) */
  policy: Record<string, unknown>;
  /** the cluster.conf text this came from, if any */
  conf: string | null;
  updatedAt: string;
  /** a scheduled cluster's spec (absent: hosts named by hand); read here, written by `schedule.setClusterSchedule` only (`putCluster` leaves it) */
  schedule?: import('./schedule.js').ScheduleRow;
  /**
   * a scheduled cluster's hosts that run more than one replica, with their count (absent: one on
   * each host); written by `replicas.setClusterReplicas` only (`putCluster` leaves it)
   */
  replicas?: Record<string, number>;
}

/** A release: an immutable package built from one commit of one job. */
export interface ReleaseRow {
  /** canonical job tag (ends in job.NAME) */
  job: string;
  /** the 9-character commit hash */
  version: string;
  commit: string;
  repo: string;
  sha256: string;
  size: number;
  /** the package's manifest.json, parsed */
  manifest: Record<string, unknown>;
  buildId: number | null;
  createdAt: string;
  /**
   * the server's signature over job, version, sha256 and manifest (src/release/signature.ts);
   * null or absent: not signed (a release made before signing, until the server signs it)
   */
  signature?: { keyId: string; value: string } | null;
}

export type BuildStatus = 'running' | 'succeeded' | 'failed';

export interface BuildRow {
  id: number;
  repo: string;
  /** canonical job tag */
  job: string;
  /** the ref as the user gave it */
  ref: string;
  status: BuildStatus;
  /** set when the build succeeded */
  version: string | null;
  initiator: string;
  startedAt: string;
  endedAt: string | null;
  /** the build's output so far (build and test commands, git) */
  log: string;
  /** the error message when it failed */
  error: string | null;
}

/** `undeploy`: the cluster's instances stop (its desired entries are removed), in batches like a deploy. */
export type DeploymentKind = 'deploy' | 'rollback' | 'undeploy';
export type DeploymentStatus = 'running' | 'succeeded' | 'failed' | 'rolled_back' | 'aborted';

export interface DeploymentRow {
  id: number;
  /** canonical cluster tag */
  tag: string;
  version: string;
  kind: DeploymentKind;
  initiator: string;
  startedAt: string;
  endedAt: string | null;
  hosts: string[];
  status: DeploymentStatus;
  /** per host, the version it ran before this deploy (null: none) */
  previous: Record<string, string | null>;
  /** per host, how it went: 'pending' | 'succeeded' | 'failed: reason' ... */
  hostResults: Record<string, string>;
  /** the cluster.conf (policy) in force for this deploy */
  conf: Record<string, unknown>;
  /** why it ended, for failed/aborted */
  message: string | null;
  /** deadline of the current batch (informational; the rollout's progress decides) */
  deadline: string;
  /** the rollout's plan and where it is (rollout/ owns its shape); {} for older rows */
  progress: Record<string, unknown>;
}

/** Which deployments' heads to read (store/deployment-heads.ts): newest first. */
export interface DeploymentHeadFilter {
  ids?: readonly number[];
  tag?: string;
  status?: DeploymentStatus;
  limit?: number;
  /** only ids below this (the next page) */
  beforeId?: number;
}

/**
 * A deployment without its hosts' lists: no `hosts`, `previous` nor `hostResults`, and its
 * progress as its row keeps it (the plan, phase, tests and log; each host's entry is in its own
 * row, except in deployments written before 0026).
 */
export type DeploymentHeadRow = Omit<DeploymentRow, 'hosts' | 'previous' | 'hostResults'> & { hostCount: number };

/** How many of a deployment's hosts with a row are in one batch and state (hosts without one are queued). */
export interface DeploymentHostCount {
  deploymentId: number;
  state: string;
  batch: number;
  /** `failed`, or reverted after failing */
  failed: boolean;
  count: number;
}

/** One host's part in a deployment, from its row: its progress entry, result, and the version it ran before. */
export interface DeploymentHostEntry {
  host: string;
  progress: Record<string, unknown>;
  result: string;
  previous: string | null;
}

/** Who holds a cluster's lock: the running deployment's identity, without its JSON. */
export type RunningDeploymentRow = Pick<DeploymentRow, 'id' | 'tag' | 'version' | 'kind' | 'initiator' | 'startedAt'>;

/** One host's part of a running deployment, written as it changes (store/deployment-hosts.ts). */
export interface DeploymentHostChange {
  host: string;
  /** its entry of `progress.hosts` */
  progress: object;
  /** its entry of `hostResults` */
  result: string;
}

/**
 * A change of a deployment: the columns given, and the hosts whose part changed. A deployment's
 * reader sees each host's last change over what its columns say of it.
 */
export type DeploymentPatch = Partial<Omit<DeploymentRow, 'id'>> & {
  hostChanges?: readonly DeploymentHostChange[];
  /** `progress` already serialized by the caller: written as it is, instead of serializing `progress` again */
  progressJson?: string;
};

/** A deployment to insert: its progress may come later. */
export type NewDeployment = Omit<DeploymentRow, 'id' | 'progress'> & { progress?: Record<string, unknown> };

/** A package staged for a host: its next batch's, fetched ahead (staged.ts). */
export interface StagedPackageRow {
  tag: string;
  version: string;
  sha256: string;
}

/** One entry of a host's desired state: run this release of this cluster's job. */
export interface DesiredRow {
  host: string;
  /** canonical cluster tag */
  tag: string;
  version: string;
  sha256: string;
  /** the release manifest (processes, env, ...) */
  manifest: Record<string, unknown>;
  deploymentId: number | null;
  updatedAt: string;
  /** what the processes are told in NOOPS_DEPLOY_KIND; null/absent: the deployment's kind */
  kind?: DeploymentKind | null;
  /** how the host runs it, resolved when written (noops.yaml, else the cluster's policy); null/absent: `process` (0021) */
  driver?: 'process' | 'container' | null;
  /** copies of each process the host runs, resolved when written (the cluster's replicas there); null/absent: one (0028) */
  replicas?: number | null;
}

/**
 * A desired entry without its manifest: what the rollout compares and plans from (which version a
 * host runs, written by which deployment). A cluster of 10,000 hosts held 10,000 copies of the
 * manifest (before 0035: its rows now name one kept copy, store/desired-manifests.ts); on SQLite
 * they took a deploy's read of its cluster from 21-41 ms to 56-85 ms (a 405-byte manifest), 24-44
 * ms to 129-150 ms (4.6 kB).
 */
export type DesiredHead = Omit<DesiredRow, 'manifest' | 'updatedAt'>;

import type { MetricsStore } from './metrics.js';

/** The store's metrics (series, raw points, archives): store/metrics.ts. */
export interface Store extends MetricsStore {}

/** A host's last report as a server stored it, for the other servers (store/host-reports.ts). */
export interface StoredHostReport {
  host: string;
  /** when the server that heard it received it (ISO) */
  at: string;
  /** the report, as JSON text */
  report: string;
  /**
   * its place among its agent's reports (AgentReport.order, also inside `report`), to choose
   * among several of one host given at once; the store compares the stored JSON's (host-reports.ts)
   */
  order?: ReportOrder | null;
}

/** One supervised process of one instance, as its agent last reported it. */
export interface InstanceRow {
  host: string;
  /** canonical cluster tag */
  tag: string;
  /** process name from the manifest (web, worker, ...) */
  process: string;
  version: string;
  state: string;
  pid: number | null;
  port: number | null;
  restarts: number;
  startedAt: string | null;
  /** the last error, if the instance could not be brought to its desired state */
  error: string | null;
  /** the container's id (container driver); null: a host process (0021) */
  container: string | null;
  /** the container's own address, which naming and the load balancers register; null: the host's (0021) */
  address: string | null;
  updatedAt: string;
}

/** A runtime package: one version of a runtime (node, jdk, ...), immutable once added. */
export interface RuntimeRow {
  name: string;
  version: string;
  /** of the tarball in the artifact store */
  sha256: string;
  size: number;
  /** `os/arch` (`linux/x64`) or `any` */
  platform: string;
  /** what it gives a process: PATH folders and variables, `{dir}` for its folder */
  exports: { path: string[]; env: Record<string, string> };
  /** the folder of the tarball that holds bin/: '' (the top) or its one top folder */
  root: string;
  createdBy: string;
  createdAt: string;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  /** build | deploy | rollback | cluster.set | cluster.apply | token.create | agent.join ... */
  action: string;
  /** the tag or object acted on */
  target: string;
  detail: Record<string, unknown>;
}

/** The store. Every method is atomic on its own. */
/**
 * What a loop's leader holds while it leads: the loop, the server, the lease's epoch. A write
 * made under it (`Store.fenced`) is refused once another server took the lease (store/leases.ts).
 */
export interface Fence {
  loop: string;
  holder: string;
  epoch: number;
}

/** A server on this database, as `noops servers` lists it. */
export interface ServerRow {
  id: string;
  /** the URL it serves */
  address: string;
  startedAt: string;
  lastSeen: string;
  /** the control loops whose live lease it holds */
  leads: string[];
}

export interface Store extends StrategyQueries, BalancerQueries {
  /** which backend this is */
  readonly kind: 'sqlite' | 'postgres';
  close(): Promise<void>;

  /**
   * Runs `fn` in one transaction: every write it makes through the store it is given happens
   * together or not at all (a change and its audit entry, say). Nested calls join the outer one.
   */
  tx<T>(fn: (store: Store) => Promise<T>): Promise<T>;

  putToken(row: TokenRow): Promise<void>;
  findToken(hash: string): Promise<TokenRow | undefined>;
  /** every token, newest first (secrets are never stored: rows hold their sha256) */
  listTokens(): Promise<TokenRow[]>;
  /** deletes one token; answers whether it existed */
  deleteToken(hash: string): Promise<boolean>;
  /**
   * Takes one use of a token with a use count: answers false when none is left (the count
   * never goes below 0, even when two joins race). Tokens without a count always answer true.
   */
  useToken(hash: string): Promise<boolean>;
  /** delete every token of this kind and name (e.g. an agent's old token when it joins again) */
  deleteTokens(kind: TokenRow['kind'], name: string): Promise<void>;
  /** small key/value settings (schema facts, server id, ...) */
  getMeta(key: string): Promise<string | undefined>;
  /** the values of the keys that have one (a deploy's wake reads every host's adoption at once) */
  getMetaMany(keys: readonly string[]): Promise<Map<string, string>>;
  setMeta(key: string, value: string): Promise<void>;
  /** set `key` to `value` unless it is set already; answers the value stored (atomic: several servers agree) */
  initMeta(key: string, value: string): Promise<string>;

  /** insert the nodes that do not exist yet (parents first is not required); existing ones are kept */
  ensureNodes(rows: NodeRow[]): Promise<void>;
  listNodes(): Promise<NodeRow[]>;

  /** insert, or update labels/address of, a host (joinedAt kept from the first insert) */
  upsertHost(row: HostJoin): Promise<void>;
  updateHost(name: string, patch: Partial<Pick<HostRow, 'scope' | 'pendingJoin' | 'joinApprovedUntil'>>): Promise<void>;
  /** removes a host's row, its agent tokens, its desired state and its subnet */
  deleteHost(name: string): Promise<void>;
  getHost(name: string): Promise<HostRow | undefined>;
  listHosts(): Promise<HostRow[]>;
  /** the hosts of these names that exist, by name (one query per BATCH_ROWS names) */
  listHostsNamed(names: readonly string[]): Promise<HostRow[]>;
  /** which of these names are hosts that joined, sorted (their names alone: a deploy's check that every host of its cluster joined) */
  joinedHostNames(names: readonly string[]): Promise<string[]>;
  /** record heartbeats of many hosts at once (batched by the caller) */
  touchHosts(beats: { name: string; at: string }[]): Promise<void>;

  putCluster(row: ClusterRow): Promise<void>;
  getCluster(tag: string): Promise<ClusterRow | undefined>;
  /** every cluster, in tag order; `scheduled`: only those the scheduler places (a schedule set), the others' host lists not read */
  listClusters(opts?: { scheduled?: boolean }): Promise<ClusterRow[]>;

  /** insert a release; a second insert of the same job+version is an error unless sha256 is equal (then a no-op) */
  putRelease(row: ReleaseRow): Promise<void>;
  getRelease(job: string, version: string): Promise<ReleaseRow | undefined>;
  /** newest first */
  listReleases(job?: string): Promise<ReleaseRow[]>;
  /** sign a release that has no signature yet; false when it has one (or does not exist) */
  setReleaseSignature(job: string, version: string, signature: { keyId: string; value: string }): Promise<boolean>;

  createBuild(row: Omit<BuildRow, 'id'>): Promise<number>;
  updateBuild(id: number, patch: Partial<Omit<BuildRow, 'id'>>): Promise<void>;
  /**
   * append text to the build's log, as new pieces (never rewriting what is stored); past
   * BUILD_LOG_HEAD_CHARS + BUILD_LOG_TAIL_CHARS the middle is cut (build-log.ts)
   */
  appendBuildLog(id: number, text: string): Promise<void>;
  /**
   * the build's log from position `from` of the whole log (a marker stands where it was cut),
   * and the position to read from next
   */
  readBuildLog(id: number, from?: number): Promise<{ text: string; end: number }>;
  getBuild(id: number): Promise<BuildRow | undefined>;
  /** newest first; without the log (log = '') to keep lists cheap */
  listBuilds(filter?: { id?: number; status?: BuildStatus; job?: string; limit?: number }): Promise<BuildRow[]>;

  /** @throws NoopsError NOOPS_E_DEPLOY_LOCKED when `row` runs and another deployment of its tag runs (0011_deploy_lock) */
  createDeployment(row: NewDeployment): Promise<number>;
  /** the columns in `patch`, and its hosts' changes, in one transaction */
  updateDeployment(id: number, patch: DeploymentPatch): Promise<void>;
  getDeployment(id: number): Promise<DeploymentRow | undefined>;
  /**
   * The deployment running on a cluster, if any (what its lock's error names): one query on an
   * index of the running deployments, without the row's JSON.
   */
  findRunningDeployment(tag: string): Promise<RunningDeploymentRow | undefined>;
  /** every running deployment's id, kind and tag, without its JSON (one index read) */
  runningDeploymentIds(): Promise<{ id: number; kind: DeploymentKind; tag: string }[]>;
  /** deployments without their hosts' lists, newest first (by id): what a list or a summary shows (store/deployment-heads.ts) */
  listDeploymentHeads(filter: DeploymentHeadFilter): Promise<DeploymentHeadRow[]>;
  /** the hosts of these deployments that left `queued`, counted per batch and state by the database */
  countDeploymentHosts(ids: readonly number[]): Promise<DeploymentHostCount[]>;
  /** one deployment's hosts in these batches that are in one of these states or failed */
  deploymentHostsWhere(id: number, q: { batches: readonly number[]; states: readonly string[] }): Promise<DeploymentHostEntry[]>;
  /** newest first (by id) */
  listDeployments(filter?: {
    tag?: string;
    status?: DeploymentStatus;
    limit?: number /** only ids below this (the next page) */;
    beforeId?: number;
  }): Promise<DeploymentRow[]>;

  /**
   * Set (row) or clear (null) one entry of a host's desired state and bump the host's
   * desired-state generation. Returns the new generation.
   */
  setDesired(host: string, tag: string, row: DesiredRow | null): Promise<number>;
  /**
   * Set (row) or clear (null) one tag's entry on many hosts at once, bumping each host's
   * generation; one transaction. A host named twice keeps the last change.
   */
  setDesiredMany(tag: string, changes: { host: string; row: DesiredRow | null }[]): Promise<void>;
  /** Deletes the desired manifests no row names that no write used since `before` (ISO); answers how many (store/desired-manifests.ts). */
  pruneDesiredManifests(before: string): Promise<number>;
  /** a host's desired state and its generation (0 when never set) */
  getDesired(host: string): Promise<{ generation: number; entries: DesiredRow[] }>;
  /** `getDesired` of many hosts, in a few statements (every host asked for is in the answer) */
  getDesiredMany(hosts: readonly string[]): Promise<Map<string, { generation: number; entries: DesiredRow[] }>>;
  /** a host's desired-state generation alone (0 when never set) */
  desiredGeneration(host: string): Promise<number>;
  /** raise a host's desired-state generation to at least `atLeast` (never lower it); answers the generation */
  raiseDesiredGeneration(host: string, atLeast: number): Promise<number>;
  /** every desired row of one tag (all hosts) */
  listDesired(tag?: string): Promise<DesiredRow[]>;
  /** A cluster's desired entries without their manifests, by host (what a deploy starts from). */
  listDesiredHeads(tag: string): Promise<DesiredHead[]>;
  /**
   * stage `pkg` for `hosts` until `until` (ms since the epoch) and raise each host's generation
   * by one, the stagings expired at `now` removed first (staged.ts: the next batch fetches ahead)
   */
  stagePackage(hosts: readonly string[], pkg: StagedPackageRow, until: number, now: number): Promise<void>;
  /** package `sha256` is staged for none of cluster `tag`'s hosts any more; answers how many stagings went */
  unstagePackage(tag: string, sha256: string): Promise<number>;
  /** the packages staged for each of `hosts` past `now` (a host with none left out) */
  stagedMany(hosts: readonly string[], now: number): Promise<Map<string, StagedPackageRow[]>>;

  /** replace everything a host reported, in one transaction */
  replaceInstances(host: string, rows: InstanceRow[]): Promise<void>;
  /** replace everything many hosts reported, in one transaction (a host with no rows ends with none) */
  replaceInstancesMany(byHost: { host: string; rows: InstanceRow[] }[]): Promise<void>;
  listInstances(filter?: { tag?: string; host?: string }): Promise<InstanceRow[]>;
  /** store hosts' last reports, each replacing an earlier one; answers the hosts taken (store/host-reports.ts) */
  putHostReports(reports: StoredHostReport[]): Promise<string[]>;
  /** the stored last reports of `hosts` (of every host when not given) */
  listHostReports(hosts?: readonly string[]): Promise<StoredHostReport[]>;
  /** add naming lookups, counted per caller and target (store/naming.ts) */
  recordNamingLookups(rows: readonly NamingLookupRow[]): Promise<void>;
  /** every naming lookup, most recent first (store/naming.ts) */
  listNamingLookups(): Promise<NamingLookupRow[]>;
  /** append scheduler history events, in order (store/placements.ts) */
  recordPlacements(events: readonly NewPlacementEvent[]): Promise<void>;
  /** a cluster's scheduler history, most recent first (store/placements.ts) */
  listPlacements(q: PlacementQuery): Promise<PlacementEventRow[]>;
  /** stale copies: marked when a cluster leaves an unheard host, named in its `stops`, forgotten once stopped (store/placements.ts) */
  addStaleCopy(row: StaleCopyRow): Promise<void>;
  listStaleCopies(): Promise<StaleCopyRow[]>;
  removeStaleCopy(host: string, tag: string): Promise<boolean>;

  /**
   * insert a runtime; when one of that name and version exists already, nothing changes. Returns
   * the stored row (the caller compares its sha256 to see whether it was the same package).
   */
  putRuntime(row: RuntimeRow): Promise<RuntimeRow>;
  getRuntime(name: string, version: string): Promise<RuntimeRow | undefined>;
  /** by name, then version as text */
  listRuntimes(name?: string): Promise<RuntimeRow[]>;

  /** store a package every server can read, whole or not at all; false when held already (store/package-blobs.ts) */
  putPackageBlob(sha256: string, size: number, content: () => AsyncIterable<Buffer | Uint8Array>): Promise<boolean>;
  /** a package's content in chunks, or undefined when the database does not hold it (store/package-blobs.ts) */
  readPackageBlob(sha256: string): Promise<AsyncIterable<Buffer> | undefined>;

  audit(row: Omit<AuditRow, 'id'>): Promise<void>;

  putGrant(row: GrantRow): Promise<void>;
  deleteGrant(scope: string, grant: GrantRow['grant']): Promise<boolean>;
  listGrants(): Promise<GrantRow[]>;
  /** inserts a secret (version 1) or replaces its value (the next version); answers the stored row */
  putSecret(row: Omit<SecretRow, 'version' | 'createdAt'>): Promise<SecretRow>;
  getSecret(scope: string, name: string): Promise<SecretRow | undefined>;
  /** every secret (of one name), by scope then name */
  listSecrets(name?: string): Promise<SecretRow[]>;
  /** answers whether it existed */
  deleteSecret(scope: string, name: string): Promise<boolean>;

  // agent commands and their output, shared by several servers (queries and rules in agent-commands.ts)
  /** a queued command (its id unique across servers), or undefined when `maxQueued` already wait for its host */
  createAgentCommand(cmd: NewAgentCommand, maxQueued: number, pickupAfter: string): Promise<AgentCommandRow | undefined>;
  hasQueuedAgentCommand(host: string, pickupAfter: string): Promise<boolean>;
  /** the hosts with a command queued since `pickupAfter`, each once */
  hostsWithQueuedAgentCommands(pickupAfter: string): Promise<string[]>;
  /** the host's queued commands, now running (each handed out once, whichever server asks) */
  takeAgentCommands(host: string, pickupAfter: string, at: string): Promise<AgentCommandRow[]>;
  postAgentCommand(host: string, id: number, post: AgentCommandPost): Promise<AgentCommandPostOutcome>;
  readAgentCommand(
    id: number,
    from?: number,
    markRead?: { at: string; olderThan: string },
  ): Promise<{ command: AgentCommandRow; chunks: AgentCommandChunk[] } | undefined>;
  /** answers whether this call ended the command */
  cancelAgentCommand(id: number, at: string): Promise<boolean>;
  /** expires, cancels orphans, forgets old ones; answers the commands it ended */
  sweepAgentCommands(sweep: AgentCommandSweep): Promise<{ id: number; host: string }[]>;
  /** newest first */
  listAudit(filter?: {
    limit?: number;
    action?: string /** only ids below this (the next page) */;
    beforeId?: number;
  }): Promise<AuditRow[]>;

  /**
   * Runs `fn` in one transaction that first checks `fence` (store/leases.ts): the writes in `fn`
   * happen only while the fence's server still leads its loop.
   *
   * @throws NoopsError NOOPS_E_FENCED when another server took the lease, or it expired
   */
  fenced<T>(fence: Fence, fn: (store: Store) => Promise<T>): Promise<T>;
  /**
   * takes or renews a loop's lease for `ttlMs`; answers its epoch, or undefined while another
   * server holds it (`force`: whoever holds it, for a server alone on its database)
   */
  acquireLease(loop: string, holder: string, ttlMs: number, force?: boolean): Promise<number | undefined>;
  /** gives a lease up (its holder stops cleanly) */
  releaseLease(loop: string, holder: string): Promise<void>;
  /** records a server alive (its heartbeat) */
  touchServer(server: { id: string; address: string; startedAt: string }): Promise<void>;
  /** forgets one server, or every server not seen since an ISO time */
  removeServers(which: { id: string } | { before: string }): Promise<void>;
  /** every server, with the loops it leads now */
  listServers(): Promise<ServerRow[]>;
  /** now by the database's clock, ms since the epoch (store/leases.ts): one clock for every server */
  databaseNow(): Promise<number>;
  /** alarms, silences, callbacks and deliveries (store/alarms.ts), in this store's transaction if any */
  readonly alarms: import('./alarms.js').AlarmStore;
  /** the containers' address pool and each host's subnet (store/networks.ts), in this store's transaction if any */
  readonly networks: import('./networks.js').NetworkStore;
  /** hosts' capacity and draining, clusters' schedule (store/schedule.ts), in this store's transaction if any */
  readonly schedule: import('./schedule.js').ScheduleStore;
  /** clusters' replicas per host (store/replicas.ts), in this store's transaction if any */
  readonly replicas: import('./replicas.js').ReplicaStore;
}
