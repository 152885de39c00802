/**
 * What a deployment starts from, read once through the reader, checked and planned: the
 * cluster, the release, the cluster's hosts (and the runtimes and root grants the release
 * needs). The controller then takes the cluster's lock and writes it (`open`).
 */
import { NoopsError } from '../errors/index.js';
import type { ClusterRow, DeploymentKind, DesiredHead, ReleaseRow, RunningDeploymentRow } from '../store/index.js';
import { formatTag, parseTag, truncateTo } from '../tree/index.js';
import { checkEnv, needsRuntimes } from './check-env.js';
import { checkRootUsers } from './check-user.js';
import type { RolloutDeps } from './ports.js';
import { parsePolicy, PolicySchema, resolvePolicy, type PolicyInput } from './deploy-policy.js';
import { planBatches } from './plan.js';
import type { RolloutReader } from './ports.js';
import type { RolloutPolicy } from './types.js';
import { manifestOf } from './store-ports.js';

/** A deploy or a rollback to start (`noops deploy`, `noops rollback`). */
export interface StartDeploy {
  tag: string;
  version: string;
  kind: DeploymentKind;
  initiator: string;
  /** policy keys (parsed) that override the cluster's for this deploy */
  policy?: PolicyInput;
  /** hosts that form the first batch, a canary waiting for promote */
  canary?: string[];
  /** only these hosts of the cluster (hosts the scheduler placed it on anew); default: all its hosts */
  hosts?: string[];
}

/** An undeploy to start (`noops undeploy`, or hosts leaving a cluster). */
export interface StartUndeploy {
  tag: string;
  initiator: string;
  /** policy keys (parsed) that override the cluster's for this undeploy */
  policy?: PolicyInput;
  /** only these hosts (hosts leaving the cluster); default: every host that runs the tag */
  hosts?: string[];
}

/** A deployment ready to open: what it deploys, its policy and plan. */
export interface StartPlan {
  /** the request (an undeploy's, with the version its hosts run) */
  start: StartDeploy;
  release: ReleaseRow;
  policy: RolloutPolicy;
  batches: string[][];
  hasTests: boolean;
  /** a scheduled cluster's hosts with more than one replica, as its start read them (null: none) */
  replicas: Record<string, number> | null;
  /** read under the cluster's lock: what each host runs now, and the cluster's desired entries */
  previousOf(): Promise<{ previous: Record<string, string | null>; desired: DesiredHead[] }>;
}

/**
 * A deploy's (or rollback's) start, checked: runtimes and root first, then the cluster, the
 * release and its package, the hosts.
 *
 * @throws NoopsError NOOPS_E_RUNTIME_UNKNOWN, NOOPS_E_RUNTIME_UNAVAILABLE, NOOPS_E_ROOT_NOT_ALLOWED, NOOPS_E_CLUSTER_UNKNOWN, NOOPS_E_RELEASE_UNKNOWN, NOOPS_E_HOST_UNKNOWN
 */
export async function planDeploy(deps: Pick<RolloutDeps, 'read' | 'lastReport' | 'hasArtifact'>, req: StartDeploy): Promise<StartPlan> {
  const { read } = deps;
  const job = truncateTo(parseTag(req.tag), 'job');
  const cluster = await read.cluster(req.tag);
  const release = job ? await read.release(formatTag(job), req.version) : undefined;
  // The cluster's hosts that joined: their rows when the runtimes' check needs their labels (a
  // release that names runtimes), else their names alone (a deploy to 10,000 hosts read 10,000 rows).
  const rows = cluster && release && needsRuntimes(release) ? await read.hosts(cluster.hosts) : undefined;
  const joined = rows ? rows.map((h) => h.name) : cluster ? await read.joined(cluster.hosts) : [];
  // runtimes known and installable on every host, before any host changes
  if (cluster && release) await checkEnv(read, deps.lastReport, { tag: req.tag, release, cluster: cluster.hosts, hosts: rows ?? [] });
  // nothing runs as root unless the admin allowed it for the cluster
  if (release) await checkRootUsers(read, { tag: req.tag, release });
  if (!cluster) throw new NoopsError('NOOPS_E_CLUSTER_UNKNOWN', `cluster ${req.tag} has no hosts yet`);
  if (cluster.hosts.length === 0) throw new NoopsError('NOOPS_E_CLUSTER_UNKNOWN', `cluster ${req.tag} has an empty host list`);
  if (!release) throw await releaseUnknown(read, req.tag, req.version);
  if (!(await deps.hasArtifact(release.sha256))) {
    throw new NoopsError(
      'NOOPS_E_RELEASE_UNKNOWN',
      `the package of ${release.job} ${release.version} (sha256 ${release.sha256}) is missing from the artifact store`,
      { hint: 'build the commit again with `noops build`' },
    );
  }
  const known = new Set(joined);
  for (const host of cluster.hosts) {
    if (!known.has(host)) throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `host "${host}" of cluster ${req.tag} has never joined`);
  }
  const policy = resolvePolicy(clusterPolicy(cluster.policy), req.policy, req.canary?.length ? { canary: true } : undefined);
  const manifest = manifestOf(release);
  const targets = req.hosts === undefined ? cluster.hosts : cluster.hosts.filter((h) => req.hosts!.includes(h));
  if (targets.length === 0) throw new NoopsError('NOOPS_E_CLUSTER_UNKNOWN', `none of ${req.hosts!.join(', ')} is a host of ${req.tag}`);
  return {
    start: req,
    release,
    policy,
    batches: planBatches(targets, policy.batch, req.canary),
    hasTests: (manifest.deployTests ?? []).length > 0,
    replicas: replicasOf(cluster),
    async previousOf() {
      const desired = await read.desired(req.tag);
      const running = new Map(desired.map((d) => [d.host, d.version]));
      const previous: Record<string, string | null> = {};
      for (const host of targets) previous[host] = running.get(host) ?? null;
      return { previous, desired };
    },
  };
}

/**
 * An undeploy's start. Its `version` is the one its hosts run (the most common, when they
 * differ). The cluster's canary does not apply (a canary is about a new release); every other
 * key of its policy does.
 *
 * @throws NoopsError NOOPS_E_NOTHING_RUNS, NOOPS_E_RELEASE_UNKNOWN
 */
export async function planUndeploy(deps: Pick<RolloutDeps, 'read'>, req: StartUndeploy): Promise<StartPlan> {
  const { read } = deps;
  const { runs } = await undeployTargets(read, req);
  const version = mostCommon(runs.map((d) => d.version));
  const release = await releaseFor(read, req.tag, version);
  const cluster = await read.cluster(req.tag);
  const policy = resolvePolicy(cluster ? clusterPolicy(cluster.policy) : undefined, { canary: false }, req.policy);
  const order = cluster?.hosts ?? [];
  const rank = (h: string): number => (order.includes(h) ? order.indexOf(h) : order.length);
  const hosts = runs.map((d) => d.host).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return {
    start: { tag: req.tag, version, kind: 'undeploy', initiator: req.initiator },
    release,
    policy,
    batches: planBatches(hosts, policy.batch),
    hasTests: false,
    replicas: replicasOf(cluster),
    async previousOf() {
      // read again under the lock: what runs now is what stops, and what goes back on an abort
      const now = await undeployTargets(read, req);
      const previous: Record<string, string | null> = {};
      for (const h of hosts) previous[h] = now.runs.find((d) => d.host === h)?.version ?? null;
      return { previous, desired: now.desired };
    },
  };
}

/** A cluster's replicas per host when it is scheduled (a hand-placed cluster runs one on each host: null). */
export function replicasOf(cluster: Pick<ClusterRow, 'schedule' | 'replicas'> | undefined): Record<string, number> | null {
  return cluster?.schedule && cluster.replicas ? cluster.replicas : null;
}

/** The cluster's desired entries, and those an undeploy stops (NOOPS_E_NOTHING_RUNS when none). */
async function undeployTargets(read: RolloutReader, req: StartUndeploy): Promise<{ desired: DesiredHead[]; runs: DesiredHead[] }> {
  const only = req.hosts === undefined ? undefined : new Set(req.hosts);
  const desired = await read.desired(req.tag);
  const runs = desired.filter((d) => only === undefined || only.has(d.host));
  if (runs.length === 0) {
    throw new NoopsError(
      'NOOPS_E_NOTHING_RUNS',
      only === undefined
        ? `no host runs ${req.tag}: there is nothing to undeploy`
        : `${[...only].join(', ')} run nothing of ${req.tag}: there is nothing to stop`,
    );
  }
  return { desired, runs };
}

/** The job tag of a cluster tag. */
export function jobOf(tag: string): string {
  const job = truncateTo(parseTag(tag), 'job');
  if (!job) throw new NoopsError('NOOPS_E_TAG_INVALID', `${tag} names no job`);
  return formatTag(job);
}

/** A release of the tag's job; NOOPS_E_RELEASE_UNKNOWN listing the newest when there is none. */
export async function releaseFor(read: RolloutReader, tag: string, version: string): Promise<ReleaseRow> {
  const release = await read.release(jobOf(tag), version);
  if (!release) throw await releaseUnknown(read, tag, version);
  return release;
}

/** NOOPS_E_RELEASE_UNKNOWN for a tag's job and version, naming the job's newest releases. */
async function releaseUnknown(read: RolloutReader, tag: string, version: string): Promise<NoopsError> {
  const job = jobOf(tag);
  const known = await read.newestReleases(job, 5);
  return new NoopsError(
    'NOOPS_E_RELEASE_UNKNOWN',
    `${job} has no release ${version}${known.length ? ` (newest: ${known.join(', ')})` : ' (it has no releases yet)'}`,
  );
}

/** NOOPS_E_DEPLOY_LOCKED: the cluster's running deployment (or one being started) holds its lock. */
export function locked(tag: string, holder: RunningDeploymentRow | undefined): NoopsError {
  return new NoopsError(
    'NOOPS_E_DEPLOY_LOCKED',
    holder
      ? `deployment #${holder.id} (${holder.kind} of ${holder.version}, started by ${holder.initiator} at ${holder.startedAt}) is running on ${tag}`
      : `another deployment of ${tag} is being started`,
  );
}

/** The value found most often (the first of those, on a tie). */
function mostCommon(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0]!;
  for (const [v, n] of counts) if (n > counts.get(best)!) best = v;
  return best;
}

/** The policy keys of a cluster's stored policy (it holds other cluster.conf keys too). */
function clusterPolicy(stored: Record<string, unknown>): PolicyInput {
  const keys = Object.keys(PolicySchema.shape);
  return parsePolicy(Object.fromEntries(Object.entries(stored).filter(([k]) => keys.includes(k))), "the cluster's policy");
}
