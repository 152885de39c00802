/**
 * Staging a rollout's package ahead of its batch (docs/packages-p2p.md): as a batch starts, the
 * hosts of the next one are told the package in their desired-state answers (`stage`), so that
 * they fetch it while this batch starts and proves healthy. Twitter's Murder distributed first and
 * restarted after; here the download of one batch overlaps the start of the one before.
 *
 * The staging is kept in the store (store/staged.ts), so every server names it in the answers of
 * the agents polling it; the deployment's end or revert unstages it (DesiredView.unstage).
 */
import type { ArtifactStore } from '../artifacts/index.js';
import type { Store } from '../store/index.js';

/**
 * How long a package staged for a host is named in its answers: its batch starts well before (a
 * batch waits on its hosts' health, minutes at most), and then its instances name it.
 */
export const STAGE_TTL_MS = 10 * 60_000;

export interface StageAheadDeps {
  store: Pick<Store, 'stagePackage'>;
  /** wakes the host's parked poll, on whichever server holds it (the hub) */
  notify(host: string): void;
  artifacts: Pick<ArtifactStore, 'size'>;
  /** packages under this go whole from the server: not staged (the batch's start fetches them in a moment) */
  config: { swarmWholeBelowBytes: number };
  /** milliseconds since the epoch now (tests move it) */
  now?: () => number;
}

/**
 * Names package `pkg` in the answers of `hosts` for STAGE_TTL_MS, raises each host's generation
 * by one (in a few statements, store/staged.ts) and wakes it, so that its parked poll ends with
 * the package named. A small package is not staged.
 */
export async function stageAhead(
  deps: StageAheadDeps,
  hosts: readonly string[],
  pkg: { tag: string; version: string; sha256: string },
): Promise<void> {
  const size = await deps.artifacts.size(pkg.sha256).catch(() => 0);
  if (size < deps.config.swarmWholeBelowBytes) return;
  const now = deps.now?.() ?? Date.now();
  await deps.store.stagePackage(hosts, pkg, now + STAGE_TTL_MS, now);
  // a writer meanwhile raises it too, and wakes the host itself: the answer it then gets names the package as well
  for (const host of hosts) deps.notify(host);
}
