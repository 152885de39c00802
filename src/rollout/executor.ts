/**
 * What the controller does for a step's actions: desired state (with the before-stop hook),
 * the after-healthy hook, and the deploy tests. Every method acts on one deployment's entry.
 */
import type { DeploymentKind, DesiredRow, ReleaseRow } from '../store/index.js';
import { type AgentReport, DEFAULT_DRAIN_TIMEOUT_MS } from '../api/index.js';
import type { RolloutPolicy, RolloutProgress } from './types.js';
import { observe } from './evaluate.js';
import { deployTestEnv, hostAddress, instanceList, mainProcess, runDeployTests } from './deploy-tests.js';
import type { RunningDeployment } from './running-deployment.js';
import type { RolloutDeps } from './ports.js';
import { releaseFor, replicasOf } from './deploy-start.js';
import { manifestOf } from './store-ports.js';

export class Executor {
  /**
   * @param deps the controller's
   * @param wake steps the deployments again (deploy-test results arrived)
   */
  constructor(
    private readonly deps: RolloutDeps,
    private readonly wake: () => void,
  ) {}

  /**
   * Tells hosts to run the deployment's release (an undeploy: to run nothing of its tag), each
   * after its before-stop hook (a failing hook fails the host, which is then not changed).
   */
  async deploy(entry: RunningDeployment, hosts: string[]): Promise<void> {
    const { row } = entry;
    const to = row.kind === 'undeploy' ? null : row.version;
    const ready: string[] = [];
    await Promise.all(
      hosts.map(async (host) => {
        try {
          await this.deps.hooks?.beforeStop?.({
            deployment: row.id,
            tag: row.tag,
            host,
            from: row.previous[host] ?? null,
            to,
            kind: row.kind,
            drainTimeoutMs: drainTimeoutMs(entry),
          });
          ready.push(host);
        } catch (err) {
          entry.hookFailures.set(host, `the before-stop hook failed: ${(err as Error).message}`);
          entry.dirty?.add(host); // the next step sees the failure
        }
      }),
    );
    await this.ensureDesiredMany(
      entry,
      ready.map((host) => ({ host, version: to })),
      row.kind,
    );
  }

  /** Tells hosts to run their previous release again (NOOPS_DEPLOY_KIND=rollback); hook failures are only logged. */
  async revert(entry: RunningDeployment, hosts: string[]): Promise<void> {
    const { row } = entry;
    await Promise.all(
      hosts.map(async (host) => {
        const to = row.previous[host] ?? null;
        try {
          await this.deps.hooks?.beforeStop?.({
            deployment: row.id,
            tag: row.tag,
            host,
            from: row.version,
            to,
            kind: 'revert',
            drainTimeoutMs: drainTimeoutMs(entry),
          });
        } catch (err) {
          entry.notes.push(`${host}: the before-stop hook failed (going back all the same): ${(err as Error).message}`);
        }
        if (entry.hookFailures.delete(host)) entry.dirty?.add(host);
      }),
    );
    await this.ensureDesiredMany(
      entry,
      hosts.map((host) => ({ host, version: row.previous[host] ?? null })),
      'rollback',
    );
  }

  /** Calls the after-healthy hook of a host that runs `version` healthily; a failure is logged. */
  async afterHealthy(entry: RunningDeployment, host: string, version: string): Promise<void> {
    const { row } = entry;
    // an undeploy's only release is the one its hosts ran: running it again is going back
    const forward = row.kind !== 'undeploy' && version === row.version;
    try {
      await this.deps.hooks?.afterHealthy?.({
        deployment: row.id,
        tag: row.tag,
        host,
        from: forward ? (row.previous[host] ?? null) : row.version,
        to: version,
        kind: forward ? row.kind : 'revert',
        drainTimeoutMs: drainTimeoutMs(entry),
      });
    } catch (err) {
      entry.notes.push(`${host}: the after-healthy hook failed: ${(err as Error).message}`);
    }
  }

  /**
   * Sets hosts' desired entries of the deployment's tag (null: none), those not so already, in
   * one read and one transaction: a batch of 1,000 hosts took seconds one host at a time.
   */
  async ensureDesiredMany(
    entry: RunningDeployment,
    targets: { host: string; version: string | null }[],
    kind: DeploymentKind,
  ): Promise<void> {
    if (targets.length === 0) return;
    const { row } = entry;
    const desired = entry.desiredAtStart ?? (await this.deps.read.desired(row.tag));
    entry.desiredAtStart = undefined;
    const current = new Map(desired.map((d) => [d.host, d]));
    const replicasOn = await this.replicasOf(entry);
    const at = new Date().toISOString();
    const changes: { host: string; row: DesiredRow | null }[] = [];
    for (const { host, version } of targets) {
      const cur = current.get(host);
      if (version === null) {
        if (cur) changes.push({ host, row: null });
        continue;
      }
      const replicas = replicasOn(host);
      if (
        cur &&
        cur.version === version &&
        cur.deploymentId === row.id &&
        (cur.kind ?? row.kind) === kind &&
        (cur.replicas ?? 1) === replicas
      )
        continue;
      const release = version === row.version ? entry.release : await this.cachedRelease(entry, version);
      const driver = driverOf(release, entry.progress.policy.driver);
      changes.push({
        host,
        row: {
          host,
          tag: row.tag,
          version,
          sha256: release.sha256,
          manifest: release.manifest,
          deploymentId: row.id,
          updatedAt: at,
          kind,
          ...(driver !== undefined && { driver }),
          ...(replicas > 1 && { replicas }),
        },
      });
    }
    await this.deps.write.setDesiredMany(row.tag, changes, entry.fence);
    if (entry.wakeAfterSave) for (const c of changes) entry.wakeAfterSave.push(c.host);
    else for (const c of changes) this.deps.notify(c.host);
  }

  /**
   * How many replicas each host of a cluster runs, resolved when its entry is written: a
   * scheduled cluster's placement there (its `replicas`), else one (a hand-placed cluster).
   */
  private async replicasOf(entry: RunningDeployment): Promise<(host: string) => number> {
    // a deployment resumed after a restart reads them once (the scheduler changes none while it runs)
    if (entry.replicas === undefined) entry.replicas = replicasOf(await this.deps.read.cluster(entry.row.tag));
    const replicas = entry.replicas;
    return (host) => (replicas !== null && Object.hasOwn(replicas, host) ? replicas[host]! : 1);
  }

  /** Starts the deploy tests after `batch` in the background; answers the instances they test. */
  async startTests(entry: RunningDeployment, progress: RolloutProgress, batch: number): Promise<string[]> {
    const { row } = entry;
    const manifest = manifestOf(entry.release);
    // after the first batch, its hosts; after the last, every host that runs the release
    const hosts = (batch === 0 ? progress.batches[0]! : row.hosts).filter((h) => progress.hosts[h]?.state === 'succeeded');
    const rows = new Map((await this.deps.read.hosts(hosts)).map((hr) => [hr.name, hr])); // one query, not one per host
    const info: { address: string | null; processes: AgentReport['processes'] }[] = hosts.map((h) => {
      const hr = rows.get(h);
      return {
        address: hr ? hostAddress(hr.labels, hr.address) : null,
        processes: observe(row.tag, this.deps.lastReport(h))?.processes ?? [],
      };
    });
    const instances: Record<string, string[]> = {};
    for (const p of manifest.processes) if (p.port !== null) instances[p.name] = instanceList(info, p.name, row.version);
    const env = deployTestEnv({ manifest, tag: row.tag, version: row.version, kind: row.kind, deployment: row.id, batch, instances });
    void runDeployTests({
      commands: manifest.deployTests ?? [],
      packagePath: this.deps.artifactPath(entry.release.sha256),
      workDir: this.deps.workDir,
      env,
      timeoutS: progress.policy.test_timeout,
      sandbox: this.deps.sandbox,
    })
      .catch((err: Error) => [{ command: '(run the deploy tests)', code: null, output: err.message }])
      .then((commands) => {
        entry.testResults.push({ batch, commands });
        this.wake();
      });
    const main = mainProcess(manifest);
    return main ? (instances[main] ?? []) : [];
  }

  /** A release of the deployment's job, fetched once per deployment. */
  async cachedRelease(entry: RunningDeployment, version: string): Promise<ReleaseRow> {
    let r = entry.releases.get(version);
    if (!r) entry.releases.set(version, (r = await this.releaseFor(entry.row.tag, version)));
    return r;
  }

  /** A release of the tag's job; NOOPS_E_RELEASE_UNKNOWN listing the newest when there is none. */
  releaseFor(tag: string, version: string): Promise<ReleaseRow> {
    return releaseFor(this.deps.read, tag, version);
  }
}

/**
 * How a host runs `release`, resolved when its desired entry is written: the release's noops.yaml
 * `driver`, else the policy's (the cluster's, as the deployment took it), else undefined (`process`).
 * A rollback and a revert resolve the same way, with the release they go back to.
 */
export function driverOf(
  release: Pick<ReleaseRow, 'manifest'>,
  policyDriver: RolloutPolicy['driver'],
): 'process' | 'container' | undefined {
  const driver = manifestOf(release).driver;
  // a package built elsewhere may name another (its noops.yaml is checked only where it was built): the policy's
  return driver === 'process' || driver === 'container' ? driver : policyDriver;
}

/**
 * How long a drain of the deployment's hosts waits for their connections (ms): the release's
 * noops.yaml `drain_timeout`, else the policy's, else DEFAULT_DRAIN_TIMEOUT_MS.
 */
export function drainTimeoutMs(entry: Pick<RunningDeployment, 'release' | 'progress'>): number {
  const seconds = manifestOf(entry.release).drainTimeout ?? entry.progress.policy.drain_timeout;
  return seconds === undefined ? DEFAULT_DRAIN_TIMEOUT_MS : Math.round(seconds * 1000);
}
