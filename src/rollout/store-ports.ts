/**
 * The rollout's reader and writer over the server's `Store`: the store edge, where a stored
 * progress is read back (validated, once) and where a deployment and its audit entry are
 * written in one transaction. The server builds it in its wiring.
 */
import { NoopsError } from '../errors/index.js';
import type { ReleaseManifest } from '../release/index.js';
import type { DeploymentRow, ReleaseRow, Store } from '../store/index.js';
import type { RolloutPorts, RolloutReader, RolloutWriter, StoredDeployment } from './ports.js';
import { locked } from './deploy-start.js';
import { readProgress } from './progress-schema.js';

/**
 * The rollout's ports over a store.
 *
 * @example new RolloutController({ ...rolloutPorts(store), lastReport, notify, ... })
 */
export function rolloutPorts(store: Store): RolloutPorts {
  const read: RolloutReader = {
    async runningDeployments() {
      return (await store.listDeployments({ status: 'running' })).map(stored);
    },
    async storedDeployment(id) {
      const row = await store.getDeployment(id);
      return row && stored(row);
    },
    runningDeploymentIds: () => store.runningDeploymentIds(),
    runningDeploymentOn: (tag) => store.findRunningDeployment(tag),
    async deploymentStatus(id) {
      const [row] = await store.listDeploymentHeads({ ids: [id] }); // its head: not every host's part
      return row && { status: row.status, kind: row.kind };
    },
    async succeededDeployments(tag, limit) {
      return (await store.listDeploymentHeads({ tag, status: 'succeeded', limit })).map((d) => ({ version: d.version, kind: d.kind }));
    },
    cluster: (tag) => store.getCluster(tag),
    release: (job, version) => store.getRelease(job, version),
    async newestReleases(job, limit) {
      return (await store.listReleases(job)).slice(0, limit).map((r) => r.version);
    },
    hosts: (names) => store.listHostsNamed(names),
    joined: (names) => store.joinedHostNames(names),
    runtimes: (name) => store.listRuntimes(name),
    async rootScopes() {
      return (await store.listGrants()).filter((g) => g.grant === 'root').map((g) => g.scope);
    },
    desired: (tag) => store.listDesiredHeads(tag), // no manifests: the rollout never reads them (Store.listDesiredHeads)
  };
  const write: RolloutWriter = {
    async createDeployment(row, audit) {
      try {
        return await store.tx(async (s) => {
          const id = await s.createDeployment(row);
          await s.audit(audit(id));
          return id;
        });
      } catch (err) {
        // The database refused a second running deployment of the tag (another server, or
        // another request, wrote one since the controller's check): name the one that holds it,
        // read after the refused transaction rolled back.
        if (err instanceof NoopsError && err.code === 'NOOPS_E_DEPLOY_LOCKED')
          throw locked(row.tag, await store.findRunningDeployment(row.tag));
        throw err;
      }
    },
    // under a fence, each write is its own transaction that checks the lease first (store/leases.ts)
    updateDeployment: (id, patch, fence) =>
      fence ? store.fenced(fence, (s) => s.updateDeployment(id, patch)) : store.updateDeployment(id, patch),
    setDesiredMany: (tag, changes, fence) =>
      fence ? store.fenced(fence, (s) => s.setDesiredMany(tag, changes)) : store.setDesiredMany(tag, changes),
    audit: (row, fence) => (fence ? store.fenced(fence, (s) => s.audit(row)) : store.audit(row)),
  };
  return { read, write };
}

/** A stored deployment with its progress read back (null, and why, when it cannot be). */
export function stored(row: DeploymentRow): StoredDeployment {
  try {
    return { ...row, progress: readProgress(row.progress) };
  } catch (err) {
    return { ...row, progress: null, unreadable: (err as Error).message };
  }
}

/**
 * A release's manifest as the build wrote it: the store keeps it as JSON, the build validated
 * it before writing it, and the release's signature covers it. The one place rollout/ reads a
 * manifest's type from a row.
 */
export function manifestOf(release: Pick<ReleaseRow, 'manifest'>): ReleaseManifest {
  return release.manifest as unknown as ReleaseManifest;
}
