/**
 * The rollout controller: turns "deploy release V to cluster T" into desired state for every
 * host of the cluster, watches the agents' reports, and ends the deployment: succeeded when
 * every host runs V, failed (and every host sent back to its previous release) otherwise.
 *
 * Deployments live in the store, so a server that restarts picks up every running one: it
 * re-applies the desired state (idempotent) and goes on judging from the agents' next reports.
 */
import { NoopsError } from '../errors/index.js';
import type { DeploymentRow, DeploymentKind, DesiredRow, ReleaseRow, Store } from '../store/index.js';
import type { ReleaseManifest } from '../release/types.js';
import type { AgentReport } from '../api/types.js';
import { parseTag, formatTag, truncateTo } from '../tree/index.js';
import { evaluateDeployment, observe, previousVersion, type HostObservation } from './evaluate.js';

/** How often running deployments are judged even without reports (their deadlines). */
export const TICK_MS = 500;
/** Reports are judged together, once per this: every judgement reads every host of the
 * deployment, so judging each of 1,000 hosts' reports on its own costs a million host reads. */
export const JUDGE_COALESCE_MS = 50;
/** How long a deploy waits for every host by default: long enough for a slow start, short
 * enough that a dead host does not hold the cluster's lock for long. */
export const DEFAULT_DEPLOY_TIMEOUT_S = 300;

/** What the controller needs from the server around it. */
export interface RolloutDeps {
  store: Store;
  /** the last report of a host, if it reported since the server started */
  lastReport(host: string): AgentReport | undefined;
  /** wake the host's agent: its desired state changed */
  notify(host: string): void;
  /** true when the package is in the artifact store */
  hasArtifact(sha256: string): Promise<boolean>;
  /** called whenever a deployment changes (for live views) */
  onChange?(d: DeploymentRow): void;
}

export interface StartDeploy {
  tag: string;
  version: string;
  kind: DeploymentKind;
  initiator: string;
  timeoutSeconds?: number;
}

export class RolloutController {
  private readonly running = new Map<number, { row: DeploymentRow; expected: string[] }>();
  private readonly starting = new Set<string>();
  private readonly kinds = new Map<number, DeploymentKind>();
  private timer: NodeJS.Timeout | undefined;
  private judgeTimer: NodeJS.Timeout | undefined;
  private judging = false;

  constructor(private readonly deps: RolloutDeps) {}

  /** Resumes the deployments that were running when the server stopped, and starts judging. */
  async start(): Promise<void> {
    for (const row of await this.deps.store.listDeployments({ status: 'running' })) {
      const release = await this.releaseFor(row.tag, row.version);
      this.running.set(row.id, { row, expected: processNames(release) });
      await this.applyDesired(row, release); // idempotent: a crash may have come between the row and the desired state
    }
    this.timer = setInterval(() => void this.judgeAll(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.judgeTimer);
    this.judgeTimer = undefined;
  }

  /** Called for every agent report: judges the deployments that involve the host, soon. */
  onReport(host: string): void {
    if (this.judgeTimer) return;
    for (const { row } of this.running.values()) {
      if (row.hosts.includes(host)) {
        this.judgeSoon();
        return;
      }
    }
  }

  private judgeSoon(): void {
    this.judgeTimer = setTimeout(() => {
      this.judgeTimer = undefined;
      if (this.judging) this.judgeSoon(); // this report's news must not wait for the next tick
      else void this.judgeAll();
    }, JUDGE_COALESCE_MS);
    this.judgeTimer.unref();
  }

  /** Starts a deployment (deploy or rollback) of a built release to a cluster. */
  async startDeploy(req: StartDeploy): Promise<DeploymentRow> {
    const { store } = this.deps;
    const cluster = await store.getCluster(req.tag);
    if (!cluster) throw new NoopsError('NOOPS_E_CLUSTER_UNKNOWN', `cluster ${req.tag} has no hosts yet`);
    if (cluster.hosts.length === 0) throw new NoopsError('NOOPS_E_CLUSTER_UNKNOWN', `cluster ${req.tag} has an empty host list`);
    const release = await this.releaseFor(req.tag, req.version);
    if (!(await this.deps.hasArtifact(release.sha256))) {
      throw new NoopsError('NOOPS_E_RELEASE_UNKNOWN', `the package of ${release.job} ${release.version} (sha256 ${release.sha256}) is missing from the artifact store`, { hint: 'build the commit again with `noops build`' });
    }
    const known = new Set((await store.listHosts()).map((h) => h.name));
    for (const host of cluster.hosts) {
      if (!known.has(host)) {
        throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `host "${host}" of cluster ${req.tag} has never joined`);
      }
    }
    // One running deployment per cluster. The in-memory set closes the gap between the check
    // and the insert within this server.
    if (this.starting.has(req.tag)) throw locked(req.tag, undefined);
    this.starting.add(req.tag);
    try {
      const [holder] = await store.listDeployments({ tag: req.tag, status: 'running', limit: 1 });
      if (holder) throw locked(req.tag, holder);
      const running = new Map((await store.listDesired(req.tag)).map((d) => [d.host, d.version]));
      const previous: Record<string, string | null> = {};
      for (const host of cluster.hosts) previous[host] = running.get(host) ?? null;
      const now = new Date();
      const timeout = req.timeoutSeconds ?? DEFAULT_DEPLOY_TIMEOUT_S;
      const base: Omit<DeploymentRow, 'id'> = {
        tag: req.tag,
        version: req.version,
        kind: req.kind,
        initiator: req.initiator,
        startedAt: now.toISOString(),
        endedAt: null,
        hosts: [...cluster.hosts],
        status: 'running',
        previous,
        hostResults: Object.fromEntries(cluster.hosts.map((h) => [h, 'pending'])),
        conf: { ...cluster.policy, timeout },
        message: null,
        deadline: new Date(now.getTime() + timeout * 1000).toISOString(),
      };
      const id = await store.createDeployment(base);
      const row: DeploymentRow = { id, ...base };
      this.running.set(id, { row, expected: processNames(release) });
      await store.audit({
        at: now.toISOString(), actor: req.initiator, action: req.kind, target: req.tag,
        detail: { deployment: id, version: req.version, hosts: cluster.hosts, previous },
      });
      await this.applyDesired(row, release);
      this.deps.onChange?.(row);
      return row;
    } finally {
      this.starting.delete(req.tag);
    }
  }

  /** Whether a deployment is a deploy or a rollback (what NOOPS_DEPLOY_KIND tells processes). */
  async kindOf(id: number): Promise<DeploymentKind> {
    const cached = this.kinds.get(id);
    if (cached) return cached;
    const kind = (await this.deps.store.getDeployment(id))?.kind ?? 'deploy';
    this.kinds.set(id, kind);
    return kind;
  }

  /** The version `noops rollback` goes back to when none is named. */
  async rollbackTarget(tag: string): Promise<string> {
    const done = await this.deps.store.listDeployments({ tag, status: 'succeeded', limit: 200 });
    const target = previousVersion(done);
    if (!target) {
      throw new NoopsError('NOOPS_E_NO_PREVIOUS', done.length === 0
        ? `${tag} has no succeeded deployment yet, so there is nothing to roll back to`
        : `${tag} has run only ${done[0]!.version}, so there is no earlier version to roll back to`);
    }
    return target;
  }

  private async releaseFor(tag: string, version: string): Promise<ReleaseRow> {
    const job = jobOf(tag);
    const release = await this.deps.store.getRelease(job, version);
    if (!release) {
      const known = (await this.deps.store.listReleases(job)).slice(0, 5).map((r) => r.version);
      throw new NoopsError('NOOPS_E_RELEASE_UNKNOWN', `${job} has no release ${version}` +
        (known.length ? ` (newest: ${known.join(', ')})` : ' (it has no releases yet)'));
    }
    return release;
  }

  private async applyDesired(row: DeploymentRow, release: ReleaseRow): Promise<void> {
    const { store } = this.deps;
    const at = new Date().toISOString();
    // One read and one transaction for every host, not one each: 10,000 hosts in well under a second.
    const current = new Map((await store.listDesired(row.tag)).map((d) => [d.host, d]));
    const changes = row.hosts
      .filter((host) => {
        const cur = current.get(host);
        return !(cur && cur.version === row.version && cur.deploymentId === row.id);
      })
      .map((host) => ({
        host,
        row: { host, tag: row.tag, version: row.version, sha256: release.sha256, manifest: release.manifest, deploymentId: row.id, updatedAt: at },
      }));
    await store.setDesiredMany(row.tag, changes);
    for (const c of changes) this.deps.notify(c.host);
  }

  /** Sends every host of a failed deployment back to the release it ran before. */
  private async revert(row: DeploymentRow): Promise<void> {
    const at = new Date().toISOString();
    const releases = new Map<string, ReleaseRow>();
    const changes: { host: string; row: DesiredRow | null }[] = [];
    for (const host of row.hosts) {
      const prev = row.previous[host] ?? null;
      if (prev === null) {
        changes.push({ host, row: null });
        continue;
      }
      if (!releases.has(prev)) releases.set(prev, await this.releaseFor(row.tag, prev));
      const release = releases.get(prev)!;
      changes.push({
        host,
        row: { host, tag: row.tag, version: prev, sha256: release.sha256, manifest: release.manifest, deploymentId: row.id, updatedAt: at },
      });
    }
    await this.deps.store.setDesiredMany(row.tag, changes);
    for (const c of changes) this.deps.notify(c.host);
  }

  private async judgeAll(): Promise<void> {
    if (this.judging) return;
    this.judging = true;
    try {
      for (const [id, entry] of [...this.running]) {
        try {
          await this.judge(entry.row, entry.expected);
        } catch (err) {
          // A store error must not stop the loop; the next tick tries again.
          process.emitWarning(`rollout: judging deployment ${id} failed: ${(err as Error).message}`);
        }
      }
    } finally {
      this.judging = false;
    }
  }

  private async judge(row: DeploymentRow, expected: string[]): Promise<void> {
    const obs = new Map<string, HostObservation | undefined>();
    for (const host of row.hosts) obs.set(host, observe(row.tag, this.deps.lastReport(host)));
    const verdict = evaluateDeployment(row, expected, obs, Date.now());
    const changed = JSON.stringify(verdict.hostResults) !== JSON.stringify(row.hostResults);
    if (verdict.outcome === 'running') {
      if (changed) {
        row.hostResults = verdict.hostResults;
        await this.deps.store.updateDeployment(row.id, { hostResults: row.hostResults });
        this.deps.onChange?.(row);
      }
      return;
    }
    const endedAt = new Date().toISOString();
    if (verdict.outcome === 'failed') await this.revert(row);
    Object.assign(row, {
      hostResults: verdict.hostResults,
      status: verdict.outcome,
      endedAt,
      message: verdict.outcome === 'failed' ? `${verdict.message}; every host was sent back to its previous release` : null,
    });
    await this.deps.store.updateDeployment(row.id, {
      hostResults: row.hostResults, status: row.status, endedAt, message: row.message,
    });
    this.running.delete(row.id);
    await this.deps.store.audit({
      at: endedAt, actor: 'noops', action: `${row.kind}.${row.status}`, target: row.tag,
      detail: { deployment: row.id, version: row.version, message: row.message },
    });
    this.deps.onChange?.(row);
  }
}

function locked(tag: string, holder: DeploymentRow | undefined): NoopsError {
  return new NoopsError('NOOPS_E_DEPLOY_LOCKED', holder
    ? `deployment #${holder.id} (${holder.kind} of ${holder.version}, started by ${holder.initiator} at ${holder.startedAt}) is running on ${tag}`
    : `another deployment of ${tag} is being started`);
}

/** The job tag of a cluster tag. */
export function jobOf(tag: string): string {
  const job = truncateTo(parseTag(tag), 'job');
  if (!job) throw new NoopsError('NOOPS_E_TAG_INVALID', `${tag} names no job`);
  return formatTag(job);
}

function processNames(release: ReleaseRow): string[] {
  return (release.manifest as unknown as ReleaseManifest).processes.map((p) => p.name);
}
