/**
 * Mapping between the tables (`schema.ts`: snake_case, JSON as text) and the rows of
 * `types.ts` (camelCase, JSON as values). Pure functions; no I/O.
 */
import { clusterScheduleField, hostScheduleFields } from './schedule.js';
import { clusterReplicasField } from './replicas.js';
import { manifestHash } from './desired-manifests.js';
import type {
  AuditRow,
  BuildRow,
  BuildStatus,
  ClusterRow,
  DeploymentKind,
  DeploymentRow,
  DeploymentStatus,
  DesiredHead,
  DesiredRow,
  GrantRow,
  HostRow,
  InstanceRow,
  NewDeployment,
  NodeRow,
  ReleaseRow,
  RuntimeRow,
  TokenRow,
} from './types.js';
import type {
  BuildsTable,
  DbAudit,
  DbBuild,
  DbGrant,
  DbCluster,
  DbDeployment,
  DbDesired,
  DbHost,
  DbInstance,
  DbNode,
  DbRelease,
  DbRuntime,
  DbToken,
  DeploymentsTable,
  DesiredTable,
  InstancesTable,
  ReleasesTable,
  RuntimesTable,
} from './schema.js';
import type { Insertable, Updateable } from 'kysely';

/** JSON text from a value (the one place values become text). */
export const toJson = (value: unknown): string => JSON.stringify(value);

/** The value from JSON text. */
export const fromJson = <T>(text: string): T => JSON.parse(text) as T;

export const tokenFromDb = (r: DbToken): TokenRow => ({
  hash: r.hash,
  kind: r.kind as TokenRow['kind'],
  name: r.name,
  scope: r.scope,
  createdAt: r.created_at,
  role: r.role as TokenRow['role'],
  expiresAt: r.expires_at,
  usesLeft: r.uses_left === null ? null : Number(r.uses_left),
  createdBy: r.created_by,
});

export const tokenToDb = (r: TokenRow): DbToken => ({
  hash: r.hash,
  kind: r.kind,
  name: r.name,
  scope: r.scope,
  created_at: r.createdAt,
  role: r.role,
  expires_at: r.expiresAt,
  uses_left: r.usesLeft,
  created_by: r.createdBy,
});

export const grantFromDb = (r: DbGrant): GrantRow => ({
  scope: r.scope,
  grant: r.grant as GrantRow['grant'],
  createdBy: r.created_by,
  createdAt: r.created_at,
});

export const nodeFromDb = (r: DbNode): NodeRow => ({
  tag: r.tag,
  level: r.level,
  parent: r.parent,
  createdAt: r.created_at,
});

export const hostFromDb = (r: DbHost): HostRow => ({
  name: r.name,
  labels: fromJson(r.labels),
  address: r.address,
  joinedAt: r.joined_at,
  lastHeartbeat: r.last_heartbeat,
  scope: r.scope,
  pendingJoin: r.pending_join === null ? null : fromJson(r.pending_join),
  joinApprovedUntil: r.join_approved_until,
  ...hostScheduleFields(r),
  ...(r.peer_url !== null && { peerUrl: r.peer_url }),
});

export const clusterFromDb = (r: DbCluster): ClusterRow => ({
  tag: r.tag,
  hosts: fromJson(r.hosts),
  policy: fromJson(r.policy),
  conf: r.conf,
  updatedAt: r.updated_at,
  ...clusterScheduleField(r),
  ...clusterReplicasField(r),
});

export const releaseFromDb = (r: DbRelease): ReleaseRow => ({
  job: r.job,
  version: r.version,
  commit: r.commit,
  repo: r.repo,
  sha256: r.sha256,
  // bigint arrives as a string from pg
  size: Number(r.size),
  manifest: fromJson(r.manifest),
  buildId: r.build_id,
  createdAt: r.created_at,
  // absent when unsigned, as in a row written before signing
  ...(r.signature !== null && r.signature_key !== null && { signature: { keyId: r.signature_key, value: r.signature } }),
});

export const releaseToDb = (r: ReleaseRow): Insertable<ReleasesTable> => ({
  job: r.job,
  version: r.version,
  commit: r.commit,
  repo: r.repo,
  sha256: r.sha256,
  size: r.size,
  manifest: toJson(r.manifest),
  build_id: r.buildId,
  created_at: r.createdAt,
  signature: r.signature?.value ?? null,
  signature_key: r.signature?.keyId ?? null,
});

export const buildFromDb = (r: DbBuild): BuildRow => ({
  id: r.id,
  repo: r.repo,
  job: r.job,
  ref: r.ref,
  status: r.status as BuildStatus,
  version: r.version,
  initiator: r.initiator,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  log: r.log,
  error: r.error,
});

/** Only the fields present in `patch` (undefined counts as absent). */
export function buildPatchToDb(patch: Partial<Omit<BuildRow, 'id'>>): Updateable<BuildsTable> {
  const out: Updateable<BuildsTable> = {};
  if (patch.repo !== undefined) out.repo = patch.repo;
  if (patch.job !== undefined) out.job = patch.job;
  if (patch.ref !== undefined) out.ref = patch.ref;
  if (patch.status !== undefined) out.status = patch.status;
  if (patch.version !== undefined) out.version = patch.version;
  if (patch.initiator !== undefined) out.initiator = patch.initiator;
  if (patch.startedAt !== undefined) out.started_at = patch.startedAt;
  if (patch.endedAt !== undefined) out.ended_at = patch.endedAt;
  if (patch.log !== undefined) out.log = patch.log;
  if (patch.error !== undefined) out.error = patch.error;
  return out;
}

export const buildToDb = (r: Omit<BuildRow, 'id'>): Insertable<BuildsTable> => ({
  repo: r.repo,
  job: r.job,
  ref: r.ref,
  status: r.status,
  version: r.version,
  initiator: r.initiator,
  started_at: r.startedAt,
  ended_at: r.endedAt,
  log: r.log,
  error: r.error,
});

export const deploymentFromDb = (r: DbDeployment): DeploymentRow => ({
  id: r.id,
  tag: r.tag,
  version: r.version,
  kind: r.kind as DeploymentKind,
  initiator: r.initiator,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  hosts: fromJson(r.hosts),
  status: r.status as DeploymentStatus,
  previous: fromJson(r.previous),
  hostResults: fromJson(r.host_results),
  conf: fromJson(r.conf),
  message: r.message,
  deadline: r.deadline,
  progress: fromJson(r.progress),
});

/** Only the fields present in `patch` (undefined counts as absent). */
export function deploymentPatchToDb(patch: Partial<Omit<DeploymentRow, 'id'>> & { progressJson?: string }): Updateable<DeploymentsTable> {
  const out: Updateable<DeploymentsTable> = {};
  if (patch.tag !== undefined) out.tag = patch.tag;
  if (patch.version !== undefined) out.version = patch.version;
  if (patch.kind !== undefined) out.kind = patch.kind;
  if (patch.initiator !== undefined) out.initiator = patch.initiator;
  if (patch.startedAt !== undefined) out.started_at = patch.startedAt;
  if (patch.endedAt !== undefined) out.ended_at = patch.endedAt;
  if (patch.hosts !== undefined) out.hosts = toJson(patch.hosts);
  if (patch.status !== undefined) out.status = patch.status;
  if (patch.previous !== undefined) out.previous = toJson(patch.previous);
  if (patch.hostResults !== undefined) out.host_results = toJson(patch.hostResults);
  if (patch.conf !== undefined) out.conf = toJson(patch.conf);
  if (patch.message !== undefined) out.message = patch.message;
  if (patch.deadline !== undefined) out.deadline = patch.deadline;
  if (patch.progressJson !== undefined) out.progress = patch.progressJson;
  else if (patch.progress !== undefined) out.progress = toJson(patch.progress);
  return out;
}

export const deploymentToDb = (r: NewDeployment): Insertable<DeploymentsTable> => ({
  tag: r.tag,
  version: r.version,
  kind: r.kind,
  initiator: r.initiator,
  started_at: r.startedAt,
  ended_at: r.endedAt,
  hosts: toJson(r.hosts),
  status: r.status,
  previous: toJson(r.previous),
  host_results: toJson(r.hostResults),
  conf: toJson(r.conf),
  message: r.message,
  deadline: r.deadline,
  progress: toJson(r.progress ?? {}),
});

/**
 * Manifests as desired rows hold them. A cluster's rows hold one release's manifest each, the
 * same for every host: it is serialized once per manifest object when a deploy writes 10,000 of
 * them, and parsed once per text when a deploy's start reads them back (shared, never changed:
 * a release is immutable). MANIFESTS_KEPT texts are kept, the oldest dropped first.
 */
const manifestRefs = new WeakMap<object, { text: string; hash: string }>();
const manifestObjects = new Map<string, Record<string, unknown>>();
/** Distinct manifest texts kept parsed: a few releases per cluster, a few dozen clusters read at once. */
export const MANIFESTS_KEPT = 256;

/**
 * A manifest's JSON text and its name in desired_manifests (store/desired-manifests.ts), made
 * once per manifest object: a deploy writes one object for every host of a cluster.
 */
export function manifestRef(manifest: Record<string, unknown>): { text: string; hash: string } {
  let ref = manifestRefs.get(manifest);
  if (ref === undefined) {
    const text = JSON.stringify(manifest);
    manifestRefs.set(manifest, (ref = { text, hash: manifestHash(text) }));
  }
  return ref;
}

/**
 * The text and manifest of the last row read: a cluster's rows come one after another with the
 * same text, and comparing it with the last (a memcmp) costs a tenth of hashing it for the Map
 * (each row's text is a new string: its hash is computed again; 1.7 us a row of 1 kB).
 */
let lastManifest: { text: string; manifest: Record<string, unknown> } | undefined;

function manifestFromDb(text: string): Record<string, unknown> {
  if (lastManifest !== undefined && lastManifest.text === text) return lastManifest.manifest;
  let manifest = manifestObjects.get(text);
  if (manifest === undefined) {
    manifest = fromJson<Record<string, unknown>>(text);
    if (manifestObjects.size >= MANIFESTS_KEPT) manifestObjects.delete(manifestObjects.keys().next().value!);
    manifestObjects.set(text, manifest);
  }
  lastManifest = { text, manifest };
  return manifest;
}

export const desiredHeadFromDb = (r: Omit<DbDesired, 'manifest' | 'manifest_hash' | 'updated_at'>): DesiredHead => ({
  host: r.host,
  tag: r.tag,
  version: r.version,
  sha256: r.sha256,
  deploymentId: r.deployment_id,
  kind: r.kind as DeploymentKind | null,
  ...(r.driver !== null && r.driver !== undefined && { driver: r.driver as 'process' | 'container' }),
  ...(r.replicas !== null && r.replicas !== undefined && Number(r.replicas) > 1 && { replicas: Number(r.replicas) }),
});

/**
 * A desired row as the store gives it. `byHash`: the manifests its `manifest_hash` may name
 * (desired-manifests.ts `manifestsByHash`); a row written before 0035 holds its own in `manifest`.
 */
export const desiredFromDb = (r: DbDesired, byHash?: ReadonlyMap<string, Record<string, unknown>>): DesiredRow => {
  let manifest: Record<string, unknown> | undefined;
  if (r.manifest_hash === null || r.manifest_hash === undefined) manifest = manifestFromDb(r.manifest);
  else if ((manifest = byHash?.get(r.manifest_hash)) === undefined)
    throw new Error(`desiredFromDb: the manifest ${r.manifest_hash} was not read`);
  return { ...desiredHeadFromDb(r), manifest, updatedAt: r.updated_at };
};

/** A desired row as it is written: its manifest named by hash (kept once: desired-manifests.ts `keepManifests`), not copied. */
export const desiredToDb = (r: DesiredRow): Insertable<DesiredTable> => ({
  host: r.host,
  tag: r.tag,
  version: r.version,
  sha256: r.sha256,
  manifest: '',
  manifest_hash: manifestRef(r.manifest).hash,
  deployment_id: r.deploymentId,
  updated_at: r.updatedAt,
  kind: r.kind ?? null,
  driver: r.driver ?? null,
  replicas: r.replicas !== undefined && r.replicas !== null && r.replicas > 1 ? r.replicas : null,
});

export const instanceFromDb = (r: DbInstance): InstanceRow => ({
  host: r.host,
  tag: r.tag,
  process: r.process,
  version: r.version,
  state: r.state,
  pid: r.pid,
  port: r.port,
  restarts: r.restarts,
  startedAt: r.started_at,
  error: r.error,
  container: r.container ?? null,
  address: r.address ?? null,
  updatedAt: r.updated_at,
});

export const instanceToDb = (r: InstanceRow): Insertable<InstancesTable> => ({
  host: r.host,
  tag: r.tag,
  process: r.process,
  version: r.version,
  state: r.state,
  pid: r.pid,
  port: r.port,
  restarts: r.restarts,
  started_at: r.startedAt,
  error: r.error,
  container: r.container,
  address: r.address,
  updated_at: r.updatedAt,
});

export const auditFromDb = (r: DbAudit): AuditRow => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  target: r.target,
  detail: fromJson(r.detail),
});

export const runtimeFromDb = (r: DbRuntime): RuntimeRow => ({
  name: r.name,
  version: r.version,
  sha256: r.sha256,
  // bigint arrives as a string from pg
  size: Number(r.size),
  platform: r.platform,
  exports: fromJson(r.exports),
  root: r.root,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

export const runtimeToDb = (r: RuntimeRow): Insertable<RuntimesTable> => ({
  name: r.name,
  version: r.version,
  sha256: r.sha256,
  size: r.size,
  platform: r.platform,
  exports: toJson(r.exports),
  root: r.root,
  created_by: r.createdBy,
  created_at: r.createdAt,
});
