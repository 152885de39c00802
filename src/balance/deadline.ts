/**
 * The drain deadline of what a host runs under a tag, for a drain outside a rollout (`noops
 * restart`): the release's noops.yaml `drain_timeout`, else its cluster's policy `drain_timeout`,
 * else DEFAULT_DRAIN_TIMEOUT_MS. A rollout works it out from its own release and policy
 * (rollout/executor.ts, `drainTimeoutMs`).
 */
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../api/index.js';
import { isUnder } from '../tree/index.js';
import { parseDuration } from '../rollout/index.js';
import type { ClusterRow, DesiredRow } from '../store/index.js';

/** What the deadline is read from. */
export interface DeadlineSource {
  getDesired(host: string): Promise<{ entries: DesiredRow[] }>;
  getCluster(tag: string): Promise<ClusterRow | undefined>;
}

/** See the file's comment; the longest of the entries under `tag` when there are several. */
export async function drainTimeoutOf(store: DeadlineSource, host: string, tag: string): Promise<number> {
  const entries = (await store.getDesired(host)).entries.filter((e) => isUnder(e.tag, tag));
  let longest: number | undefined;
  for (const e of entries) {
    const declared = (e.manifest as { drainTimeout?: unknown }).drainTimeout;
    let seconds = typeof declared === 'number' && declared >= 0 ? declared : undefined;
    if (seconds === undefined) {
      const policy = (await store.getCluster(e.tag))?.policy.drain_timeout;
      seconds = policy === undefined ? undefined : (parseDuration(policy) ?? undefined);
    }
    const ms = seconds === undefined ? DEFAULT_DRAIN_TIMEOUT_MS : Math.round(seconds * 1000);
    longest = Math.max(longest ?? 0, ms);
  }
  return longest ?? DEFAULT_DRAIN_TIMEOUT_MS;
}
