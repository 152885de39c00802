/**
 * Staging a rollout's package ahead of its batch (docs/packages-p2p.md): as a batch starts, the
 * hosts of the next one are told the package in their desired-state answers (`stage`), so that
 * they fetch it while this batch starts and proves healthy. Twitter's Murder distributed first and
 * restarted after; here the download of one batch overlaps the start of the one before.
 *
 * The staging is kept in memory by the server that steps the rollout (DesiredView.stage), so it
 * is wired only where one server runs alone (src/server/index.ts); the deployment's end or revert
 * unstages it (DesiredView.unstage).
 */
import { API_PREFIX } from '../api/index.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { Store } from '../store/index.js';
import type { DesiredView } from './desired-view.js';

export interface StageAheadDeps {
  store: Pick<Store, 'desiredGeneration' | 'raiseDesiredGeneration'>;
  view: Pick<DesiredView, 'stage'>;
  /** wakes the host's parked poll (the hub) */
  notify(host: string): void;
  artifacts: Pick<ArtifactStore, 'size'>;
  /** packages under this go whole from the server: not staged (the batch's start fetches them in a moment) */
  config: { swarmWholeBelowBytes: number };
}

/**
 * Names package `pkg` in the answers of `hosts`, raises each host's generation by one and wakes
 * it, so that its parked poll ends with the package named. A small package is not staged.
 */
export async function stageAhead(
  deps: StageAheadDeps,
  hosts: readonly string[],
  pkg: { tag: string; version: string; sha256: string },
): Promise<void> {
  const size = await deps.artifacts.size(pkg.sha256).catch(() => 0);
  if (size < deps.config.swarmWholeBelowBytes) return;
  deps.view.stage(hosts, { ...pkg, url: `${API_PREFIX}/artifacts/${pkg.sha256}` });
  for (const host of hosts) {
    // a writer meanwhile raises it too, and wakes the host itself: the answer it then gets names the package as well
    await deps.store.raiseDesiredGeneration(host, (await deps.store.desiredGeneration(host)) + 1);
    deps.notify(host);
  }
}
