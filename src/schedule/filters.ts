/**
 * The filters (Nomad's feasibility checkers, scheduler/feasible.go): each a small function that
 * answers null when the host may run one instance of the cluster, or the reason it may not, as
 * `noops cluster plan` shows it. `held` says the host runs the cluster already: its ask is then in
 * the host's `allocated`, its ports in `ports`, its job once in `jobs` (keeping an instance is
 * checked, not adding a second one).
 */
import type { ScheduleConstraint } from '../api/index.js';
import { formatCores, formatSize } from './sizes.js';
import type { PlaceAsk, SchedHost } from './types.js';

/** A filter: null when the host passes, else the reason it is left out. */
export type Filter = (host: SchedHost, ask: PlaceAsk, held?: boolean) => string | null;

/** The host is heard within `down_after`. */
export const up: Filter = (host, _ask, held = false) => {
  if (!host.up) return 'down';
  return host.unheard && !held ? 'unheard (kept by the migration budget, takes nothing new)' : null;
};

/**
 * The host is assigned to a node of the tree that holds the cluster (`noops host assign`): an
 * unassigned host, or one of another part of the tree, never runs a scheduled cluster.
 */
export const assigned: Filter = (host, ask) => {
  if (host.scope === undefined) return null;
  if (host.scope === null) return 'not assigned to the tree (noops host assign)';
  return holds(host.scope, ask.tag) ? null : `assigned to ${host.scope}`;
};

/** Whether the canonical tag `tag` is `node` or beneath it (pairs are joined by "_", which no value holds). */
function holds(node: string, tag: string): boolean {
  return tag === node || (tag.length > node.length && tag.startsWith(node) && tag.charCodeAt(node.length) === 95) /* _ */;
}

/** The host is not being drained (`noops host drain`). */
export const notDraining: Filter = (host) => (host.draining ? 'draining' : null);

/** The cluster's cpu and memory fit beside what is placed already; the reason names the dimension. */
export const resources: Filter = (host, ask, held = false) => {
  const { capacity, allocated } = host;
  if (capacity.cpu <= 0 && capacity.memory <= 0) return 'no capacity reported';
  const { cpu, memory } = ask.spec;
  const others = held ? 1 : 0;
  const freeCpu = capacity.cpu - (allocated.cpu - others * cpu);
  // a tolerance for sums of fractions of cores (0.1 + 0.2)
  if (cpu > 0 && cpu > freeCpu + 1e-9) return `cpu: ${formatCores(cpu)} asked, ${formatCores(freeCpu)} free`;
  const freeMemory = capacity.memory - (allocated.memory - others * memory);
  if (memory > 0 && memory > freeMemory) return `memory: ${formatSize(memory)} asked, ${formatSize(freeMemory)} free`;
  return null;
};

/** `rack!=r3` as the user wrote it. */
export function formatConstraint(c: ScheduleConstraint): string {
  return `${c.label}${c.op}${c.value}`;
}

/** Whether the host's labels meet one constraint: `=` needs the label with that value, `!=` passes a host without the label. */
export function meets(labels: Record<string, string>, c: ScheduleConstraint): boolean {
  const value = Object.hasOwn(labels, c.label) ? labels[c.label] : undefined;
  return c.op === '=' ? value === c.value : value !== c.value;
}

/** Every constraint holds; the reason names the first that does not. */
export const constraints: Filter = (host, ask) => {
  for (const c of ask.spec.constraints) if (!meets(host.labels, c)) return `constraint ${formatConstraint(c)}`;
  return null;
};

/**
 * With `distinctHosts`, no other cluster of the same job runs on the host; and no cluster lands
 * beside a cluster of its job that asks `distinctHosts` (the rule holds both ways, so a plan made
 * later never undoes one made before).
 */
export const distinctHosts: Filter = (host, ask, held = false) => {
  const own = held ? 1 : 0;
  if (ask.spec.distinctHosts) {
    let same = 0;
    for (const j of host.jobs) if (j === ask.job) same++;
    return same > own ? `distinct hosts: another cluster of ${ask.job} runs here` : null;
  }
  const distinct = host.distinctJobs;
  if (distinct === undefined || distinct.length === 0) return null;
  for (const j of distinct) if (j === ask.job) return `distinct hosts: a cluster of ${ask.job} that asks for its own hosts runs here`;
  return null;
};

/** The fixed ports the cluster's processes take are free on the host. */
export const ports: Filter = (host, ask, held = false) => {
  if (ask.ports.length === 0 || host.ports.length === 0) return null;
  for (const p of ask.ports) {
    let holders = 0;
    for (const q of host.ports) if (q === p) holders++;
    if (holders > (held ? 1 : 0)) return `port ${p} taken`;
  }
  return null;
};

/** The filters in the order they run: the cheap ones that leave most hosts out first. */
export const FILTERS: readonly Filter[] = [up, notDraining, assigned, resources, constraints, distinctHosts, ports];

/** The reason the first filter that fails gives, or null when the host passes them all. */
export function firstFailure(host: SchedHost, ask: PlaceAsk, held = false): string | null {
  for (const f of FILTERS) {
    const reason = f(host, ask, held);
    if (reason !== null) return reason;
  }
  return null;
}

/** The reason a current host's instance stops, from the filter it no longer passes. */
export function leaveReason(failure: string): string {
  if (failure === 'down') return 'host down';
  if (failure === 'draining') return 'draining';
  return `no longer fits: ${failure}`;
}

/**
 * The same verdict as `firstFailure(...) === null` without building a reason: the search runs it
 * on every host it looks at, so it stays free of strings. The tests hold the two together.
 */
export function feasible(host: SchedHost, ask: PlaceAsk, held = false): boolean {
  if (!host.up || host.draining || (host.unheard && !held)) return false;
  if (host.scope !== undefined && assigned(host, ask) !== null) return false;
  const { capacity, allocated } = host;
  if (capacity.cpu <= 0 && capacity.memory <= 0) return false;
  const { cpu, memory } = ask.spec;
  const others = held ? 1 : 0;
  if (cpu > 0 && cpu > capacity.cpu - (allocated.cpu - others * cpu) + 1e-9) return false;
  if (memory > 0 && memory > capacity.memory - (allocated.memory - others * memory)) return false;
  for (const c of ask.spec.constraints) if (!meets(host.labels, c)) return false;
  return distinctHosts(host, ask, held) === null && ports(host, ask, held) === null;
}
