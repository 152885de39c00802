/**
 * Replicas in the scheduler's loop (docs/scheduler.md, "Replicas"): a scheduled cluster's
 * placements are its `hosts` and, for the hosts that run more than one instance, its `replicas`
 * (store/replicas.ts). The planner speaks instances (a host named once per instance); these
 * helpers turn one into the other, and carry a new count on a host into its desired entry.
 */
import type { Store } from '../store/index.js';
import type { PlanResult } from './schedule-ports.js';

/** A cluster's placements as stored: its hosts, and the counts above one. */
export interface Placement {
  hosts: string[];
  replicas: Record<string, number>;
}

/** A cluster's instances, a host once per instance (the planner's `current`). */
export function clusterInstances(c: { hosts: readonly string[]; replicas?: Readonly<Record<string, number>> }): string[] {
  const out: string[] = [];
  for (const h of c.hosts) {
    const n = replicasOn(c.replicas, h);
    for (let k = 0; k < n; k++) out.push(h);
  }
  return out;
}

/** How many instances a cluster runs on `host` when it is placed there (one unless its replicas say more). */
export function replicasOn(replicas: Readonly<Record<string, number>> | undefined, host: string): number {
  return replicas !== undefined && Object.hasOwn(replicas, host) ? replicas[host]! : 1;
}

/** A plan's placements as stored: its hosts in the plan's order (kept, then added), the counts above one. */
export function placementOf(plan: Pick<PlanResult, 'placements'>): Placement {
  const replicas: Record<string, number> = {};
  for (const p of plan.placements) if (p.count > 1) replicas[p.host] = p.count;
  return { hosts: plan.placements.map((p) => p.host), replicas };
}

/** Whether a cluster is placed as `next` says already: the same hosts, each with the same count. */
export function samePlacement(c: { hosts: readonly string[]; replicas?: Readonly<Record<string, number>> }, next: Placement): boolean {
  if (c.hosts.length !== next.hosts.length) return false;
  const now = new Set(c.hosts);
  return next.hosts.every((h) => now.has(h) && replicasOn(c.replicas, h) === replicasOn(next.replicas, h));
}

/** The hosts whose desired entry runs another count than the cluster's placement there. */
export function replicaChanges(
  desired: readonly { host: string; replicas?: number }[],
  placed: readonly string[],
  replicas: Readonly<Record<string, number>> | undefined,
): { host: string; replicas: number }[] {
  const want = new Set(placed);
  const out: { host: string; replicas: number }[] = [];
  for (const d of desired) {
    if (!want.has(d.host)) continue;
    const n = replicasOn(replicas, d.host);
    if ((d.replicas ?? 1) !== n) out.push({ host: d.host, replicas: n });
  }
  return out;
}

/**
 * Whether a release runs in containers on its hosts: its noops.yaml's `driver`, else the cluster
 * policy's (as the rollout resolves it when it writes an entry). Each container has its own
 * address, so its fixed ports take none of the host's: replicas of it may share a host.
 */
export function runsInContainers(manifest: Record<string, unknown>, policy: Record<string, unknown> | undefined): boolean {
  const known = (d: unknown): d is 'process' | 'container' => d === 'process' || d === 'container';
  const own = manifest.driver;
  return (known(own) ? own : known(policy?.driver) ? policy.driver : 'process') === 'container';
}

/** Writes a new count into hosts' desired entries of `tag` (the same release: nothing else changes). */
export async function setDesiredReplicas(store: Store, tag: string, changes: readonly { host: string; replicas: number }[]): Promise<void> {
  if (changes.length === 0) return;
  const rows = new Map((await store.listDesired(tag)).map((d) => [d.host, d]));
  const at = new Date().toISOString();
  const writes = [];
  for (const c of changes) {
    const row = rows.get(c.host);
    if (row === undefined) continue;
    const { replicas: _, ...rest } = row;
    writes.push({ host: c.host, row: { ...rest, updatedAt: at, ...(c.replicas > 1 && { replicas: c.replicas }) } });
  }
  await store.setDesiredMany(tag, writes);
}
