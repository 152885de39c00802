/**
 * The scorers (Nomad's rank iterators, scheduler/rank.go): the higher, the better the host for
 * one more instance. Each is a small pure function; the planner combines them.
 */
import type { HostResources } from '../api/index.js';
import type { PlaceAsk, SchedHost } from './types.js';

/** The share of one dimension left free (0: full, 1: empty); a host offering none counts as full. */
function freeShare(capacity: number, used: number): number {
  if (capacity <= 0) return 0;
  return Math.min(1, Math.max(0, 1 - used / capacity));
}

/**
 * How full a host is with `used` of `capacity`, in [0, 1]: Nomad's bin-packing fit
 * (20 - (10^freeCpu + 10^freeMemory), over 18), which rewards a host that is full in both
 * dimensions more than one full in one only.
 */
export function fullness(capacity: HostResources, used: HostResources): number {
  const total = 10 ** freeShare(capacity.cpu, used.cpu) + 10 ** freeShare(capacity.memory, used.memory);
  return (20 - total) / 18;
}

/**
 * Bin-packing (the default): the fuller the host after placing the instance, the better.
 * `placed`: instances of the ask this plan already gave the host (replicas), not yet in its allocation.
 */
export function binpack(host: SchedHost, ask: PlaceAsk, placed = 0): number {
  const { capacity, allocated } = host;
  const n = placed + 1;
  return fullness(capacity, { cpu: allocated.cpu + n * ask.spec.cpu, memory: allocated.memory + n * ask.spec.memory, disk: 0 });
}

/**
 * Spread over a label: the host whose label value runs the fewest instances of this cluster is
 * the best (1 for a value with none, 1/2 with one, ...); a host without the label comes last (0).
 * `counts` holds this cluster's instances per value of the label.
 */
export function spread(host: SchedHost, label: string, counts: ReadonlyMap<string, number>): number {
  if (!Object.hasOwn(host.labels, label)) return 0;
  return 1 / (1 + (counts.get(host.labels[label]!) ?? 0));
}
