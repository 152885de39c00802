/**
 * Replicas: several instances of one cluster on one host (docs/scheduler.md, "Replicas"). The
 * planner's helpers for them: how many of a host's instances may stay, whether a host takes one
 * more, and why not. A fixed port (`port: 8080`) or `distinctHosts` allows one instance per host;
 * otherwise cores and memory decide.
 */
import { feasible, firstFailure } from './filters.js';
import type { Fleet } from './fleet.js';
import { formatCores, formatSize } from './sizes.js';
import type { ClusterPlan, PlaceAsk } from './types.js';

/**
 * The cluster's own hosts scored beside the search's candidates, at most (the fullest): each
 * choice scores its whole window, and a cluster on thousands of hosts would widen every one.
 * 16 is the widest window the search uses anyway (UNORDERED_LIMIT).
 */
export const MAX_SEEDS = 16;

/** The instances an applied plan leaves the cluster with, a host once per instance (its next `current`). */
export function placedInstances(plan: ClusterPlan): string[] {
  const out: string[] = [];
  for (const p of plan.placements) for (let k = 0; k < p.count; k++) out.push(p.host);
  return out;
}

/** Hosts named once per instance, as placements: each host once, in the order first named, with its count. */
export function countByHost(hosts: readonly string[]): { host: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const h of hosts) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts].map(([host, count]) => ({ host, count }));
}

/**
 * How many of the `n` instances a current host runs may stay when together they no longer pass
 * (cores or memory asked beyond what it offers, a fixed port held by more than one): instances
 * are taken off one at a time until the rest pass. The fleet is left as it was.
 */
export function keepable(fleet: Fleet, ask: PlaceAsk, i: number, n: number): number {
  let k = n;
  while (k > 0 && firstFailure(fleet.hosts[i]!, ask, true) !== null) {
    fleet.release(i, ask);
    k--;
  }
  for (let j = k; j < n; j++) fleet.take(i, ask);
  return k;
}

/**
 * Whether host i, given `placed` new instances of the ask by this plan (beyond those in its
 * allocation), takes one more: a host without any yet passes every filter; one with some takes
 * another while cores and memory allow, never with a fixed port or `distinctHosts`.
 */
export function takesAnother(fleet: Fleet, ask: PlaceAsk, i: number, placed: number): boolean {
  if (placed === 0) return feasible(fleet.hosts[i]!, ask);
  if (ask.ports.length > 0 || ask.spec.distinctHosts) return false;
  const { cpu, memory } = ask.spec;
  const n = placed + 1;
  // the same tolerance as the resources filter (sums of fractions of cores)
  return (cpu <= 0 || n * cpu <= fleet.freeCpu(i) + 1e-9) && (memory <= 0 || n * memory <= fleet.freeMemory(i));
}

/** Why a host that runs the cluster takes no more of it (null: it would, or `distinctHosts` says so already). */
export function noMore(fleet: Fleet, ask: PlaceAsk, i: number, placed: number): string | null {
  if (ask.spec.distinctHosts) return null;
  if (ask.ports.length > 0) return `port ${ask.ports[0]} taken by an instance of this cluster (a fixed port runs one instance per host)`;
  const { cpu, memory } = ask.spec;
  const freeCpu = fleet.freeCpu(i) - placed * cpu;
  if (cpu > 0 && cpu > freeCpu + 1e-9) return `cpu: ${formatCores(cpu)} asked, ${formatCores(Math.max(0, freeCpu))} free`;
  const freeMemory = fleet.freeMemory(i) - placed * memory;
  if (memory > 0 && memory > freeMemory) return `memory: ${formatSize(memory)} asked, ${formatSize(Math.max(0, freeMemory))} free`;
  return firstFailure(fleet.hosts[i]!, ask, true);
}

/** The cluster's current hosts that take another instance of it (none with a fixed port or `distinctHosts`). */
export function keptCandidates(fleet: Fleet, ask: PlaceAsk, kept: readonly number[]): number[] {
  if (kept.length === 0 || ask.ports.length > 0 || ask.spec.distinctHosts) return [];
  return [...new Set(kept)]
    .filter((i) => fleet.usable[i] === 1 && takesAnother(fleet, ask, i, 0))
    .sort((a, b) => fleet.level(b) - fleet.level(a))
    .slice(0, MAX_SEEDS);
}
