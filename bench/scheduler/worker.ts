/**
 * One scheduler scenario in a fresh process (its memory its own), run by bench/scheduler/index.ts:
 *
 *   node --expose-gc --import tsx bench/scheduler/worker.ts '{"hosts":5000,"clusters":1000,"count":1000}'
 *
 * 1. place: every cluster planned and applied in turn on an empty fleet (planCluster + apply),
 *    timed by the clock and by CPU time;
 * 2. steady: every cluster planned again: nothing may change (stability), timed; then a rebalance
 *    of at most 100 moves planned (not made), timed;
 * 3. failure: `downShare` of the hosts marked down, the fleet rebuilt, every cluster planned again:
 *    the instances on the dead hosts leave and are placed elsewhere, timed.
 * Quality: hosts used against a lower bound (bin-packing), the spread of spread clusters over racks
 * (most and fewest instances on one rack), and that no host holds more than it offers.
 *
 * Prints one JSON line.
 */
import { cpuUsage, memoryUsage } from 'node:process';
import { Fleet, type PlaceAsk, placedInstances, planCluster, planRebalance, type SchedHost } from '../../src/schedule/index.js';
import { type AskKind, makeAsks, makeHosts, random } from './workload.js';

interface Args {
  hosts: number;
  clusters: number;
  count: number;
  /** counts drawn between 1 and `count` */
  mixed?: boolean;
  /** share of the hosts that die in the failure phase */
  downShare?: number;
  seed?: number;
}

/** The budget of the rebalance planned after the first placement (`noops rebalance --max-moves`). */
const REBALANCE_MOVES = 100;

/** Wall and CPU seconds of `fn`. */
function timed<T>(fn: () => T): { value: T; wallS: number; cpuS: number } {
  const c0 = cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallS = (performance.now() - t0) / 1000;
  const c = cpuUsage(c0);
  return { value, wallS, cpuS: (c.user + c.system) / 1e6 };
}

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;

/** The fewest hosts that could hold every ask: by cores, by memory (constraints ignored), and by one instance per host per cluster. */
function lowerBound(hosts: SchedHost[], asks: PlaceAsk[]): number {
  const need = (dim: 'cpu' | 'memory'): number => {
    let total = 0;
    for (const a of asks) total += a.spec[dim] * a.current.length;
    const caps = hosts.map((h) => h.capacity[dim]).sort((x, y) => y - x);
    let k = 0;
    for (let sum = 0; sum < total && k < caps.length; k++) sum += caps[k]!;
    return k;
  };
  // one instance per host per cluster; a job's cluster that asks distinct hosts shares none with its job's others
  const perJob = new Map<string, { distinct: number; others: number }>();
  for (const a of asks) {
    const j = perJob.get(a.job) ?? { distinct: 0, others: 0 };
    if (a.spec.distinctHosts) j.distinct += a.current.length;
    else j.others = Math.max(j.others, a.current.length);
    perJob.set(a.job, j);
  }
  let distinct = 0;
  for (const j of perJob.values()) distinct = Math.max(distinct, j.distinct + j.others);
  return Math.max(need('cpu'), need('memory'), distinct);
}

function placeAll(fleet: Fleet, asks: PlaceAsk[]): { added: number; left: number; unplaced: number } {
  let added = 0;
  let left = 0;
  let unplaced = 0;
  for (const ask of asks) {
    const plan = planCluster(fleet, ask);
    fleet.apply(plan, ask);
    ask.current = placedInstances(plan);
    added += plan.add.length;
    left += plan.leave.length;
    unplaced += plan.unplaced;
  }
  return { added, left, unplaced };
}

function main(args: Args): object {
  const seed = args.seed ?? 18;
  const hosts = makeHosts(args.hosts);
  const made = makeAsks(args.clusters, args.count, args.hosts, seed, args.mixed ?? false);
  const asks = made.map((m) => m.ask);
  const asked = asks.reduce((s, a) => s + a.spec.count, 0);
  const heap0 = memoryUsage().heapUsed;

  const build = timed(() => new Fleet(hosts));
  const fleet = build.value;
  const place = timed(() => placeAll(fleet, asks));
  const steady = timed(() => placeAll(fleet, asks));
  const rebalance = timed(() => planRebalance(fleet, asks, REBALANCE_MOVES));

  // quality, after the first placement
  for (const h of hosts) {
    if (h.allocated.cpu > h.capacity.cpu + 1e-6 || h.allocated.memory > h.capacity.memory) throw new Error(`${h.name} is overcommitted`);
  }
  const used = hosts.filter((h) => h.allocated.cpu > 0 || h.allocated.memory > 0);
  const bound = lowerBound(hosts, asks);
  const cpuUse = used.reduce((s, h) => s + h.allocated.cpu, 0) / used.reduce((s, h) => s + h.capacity.cpu, 0);
  const memoryUse = used.reduce((s, h) => s + h.allocated.memory, 0) / used.reduce((s, h) => s + h.capacity.memory, 0);
  const byName = new Map(hosts.map((h) => [h.name, h]));
  let spreadWorstGap = 0;
  let spreadClusters = 0;
  let spreadRatioSum = 0;
  made.forEach(({ ask, kind }) => {
    if (kind !== 'spread') return;
    spreadClusters++;
    const perRack = new Map<string, number>();
    for (const h of hosts) perRack.set(h.labels.rack!, 0);
    for (const name of ask.current) {
      const rack = byName.get(name)!.labels.rack!;
      perRack.set(rack, perRack.get(rack)! + 1);
    }
    const counts = [...perRack.values()];
    const max = Math.max(...counts);
    const min = Math.min(...counts);
    spreadWorstGap = Math.max(spreadWorstGap, max - min);
    spreadRatioSum += min > 0 ? max / min : max;
  });
  const kinds: Partial<Record<AskKind, number>> = {};
  for (const m of made) kinds[m.kind] = (kinds[m.kind] ?? 0) + 1;

  // failure: a share of the hosts die; their instances are placed elsewhere
  const rand = random(seed + 1);
  const dead = Math.max(1, Math.round(args.hosts * (args.downShare ?? 0.01)));
  const onDead = new Set<string>();
  for (let k = 0; k < dead; k++) {
    const h = hosts[Math.floor(rand() * hosts.length)]!;
    h.up = false;
    onDead.add(h.name);
  }
  const instancesOnDead = asks.reduce((s, a) => s + a.current.filter((h) => onDead.has(h)).length, 0);
  const rebuild = timed(() => new Fleet(hosts));
  const failure = timed(() => placeAll(rebuild.value, asks));
  const stillOnDead = asks.reduce((s, a) => s + a.current.filter((h) => onDead.has(h)).length, 0);

  globalThis.gc?.();
  const placed = place.value.added;
  return {
    hosts: args.hosts,
    clusters: args.clusters,
    asked,
    kinds,
    fleetBuildMs: round(build.wallS * 1000, 1),
    place: {
      placed,
      unplaced: place.value.unplaced,
      wallS: round(place.wallS, 2),
      cpuS: round(place.cpuS, 2),
      perS: round(placed / place.wallS),
      perCpuS: round(placed / place.cpuS),
    },
    rebalance: {
      budget: REBALANCE_MOVES,
      moves: rebalance.value.moves.length,
      freedHosts: rebalance.value.freedHosts.length,
      wallS: round(rebalance.wallS, 2),
    },
    steady: {
      changes: steady.value.added + steady.value.left,
      wallS: round(steady.wallS, 2),
      clustersPerS: round(asks.length / steady.wallS),
    },
    failure: {
      deadHosts: onDead.size,
      instancesOnDead,
      migrated: failure.value.added,
      stillOnDead,
      unplaced: failure.value.unplaced,
      fleetRebuildMs: round(rebuild.wallS * 1000, 1),
      wallS: round(failure.wallS, 2),
    },
    quality: {
      hostsUsed: used.length,
      hostsLowerBound: bound,
      usedOverBound: round(used.length / bound, 3),
      cpuUseOfUsedHosts: round(cpuUse, 3),
      memoryUseOfUsedHosts: round(memoryUse, 3),
      spreadClusters,
      spreadWorstMaxMinusMin: spreadWorstGap,
      spreadMeanMaxOverMin: spreadClusters > 0 ? round(spreadRatioSum / spreadClusters, 3) : null,
    },
    heapMiB: round((memoryUsage().heapUsed - heap0) / 2 ** 20),
  };
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
process.stdout.write(`${JSON.stringify(main(args))}\n`);
