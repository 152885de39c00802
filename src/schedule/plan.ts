/**
 * One cluster's plan, in Nomad's manner (scheduler/stack.go): the current hosts that still pass
 * the filters are kept, scale down takes the least useful, and each new instance goes to the best
 * of a bounded number of feasible candidates (LimitIterator, then MaxScoreIterator) drawn from an
 * index, never from a scan of every host:
 *
 *   bin-packing      levels of fullness, fullest first; a level whose hosts cannot fit is skipped
 *   spread over L    the value of L with the fewest instances of the cluster, then bin-packing in it
 *   `L=v` constraint the hosts labelled L=v only
 *
 * Every host is looked at most once per plan (a host chosen or held is marked), so a plan of k
 * instances costs about k candidates plus the hosts that did not fit on the way.
 *
 * Replicas: without `distinctHosts`, a host may run several instances of one cluster (a host
 * named n times in `current` runs n). A chosen host stays a candidate while another instance
 * fits beside those this plan gave it (cores and memory; a fixed port or `distinctHosts` allows
 * one per host), and the cluster's current hosts are candidates too; `placements` counts them.
 */
import { feasible, firstFailure, leaveReason } from './filters.js';
import { choose, type Fresh, pick, type Stream } from './choose.js';
import { countByHost, keepable, keptCandidates, noMore } from './replicas.js';
import { type Fleet, LEVELS } from './fleet.js';
import { fullness } from './scorers.js';
import type { ClusterPlan, HostReason, PlaceAsk, PlanOptions } from './types.js';

/** Feasible candidates scored per choice under bin-packing, in fullness order (Nomad takes 2). */
export const BINPACK_LIMIT = 4;
/** Per choice when the candidates come unordered (an `=` constraint's hosts). */
export const UNORDERED_LIMIT = 16;
/** Per choice within one label value under spread. */
export const SPREAD_LIMIT = 4;
/** An `=` constraint's hosts (or a spread value's) up to this many are put in fullness order for each plan ... */
const SORT_SOURCE_MAX = 256;
/** ... or up to this many per new instance the plan places. */
const SORT_PER_INSTANCE = 8;

/** Where each instance of one cluster goes, and what changes from today. Changes nothing: `fleet.apply` records it. */
export function planCluster(fleet: Fleet, ask: PlaceAsk, opts: PlanOptions = {}): ClusterPlan {
  const mark = fleet.nextMark();
  const filtered: HostReason[] = [];
  const leave: HostReason[] = [];
  // the instances each current host runs (a host named n times runs n)
  const held = new Map<number, number>();
  for (const name of ask.current) {
    const i = fleet.numberOf(name);
    if (i !== undefined) held.set(i, (held.get(i) ?? 0) + 1);
  }
  let kept: number[] = [];
  for (const name of ask.current) {
    const i = fleet.numberOf(name);
    if (i === undefined) {
      leave.push({ host: name, reason: 'host gone' });
      continue;
    }
    if (fleet.marks[i] === mark) continue;
    fleet.marks[i] = mark;
    const n = held.get(i)!;
    const failure = firstFailure(fleet.hosts[i]!, ask, true);
    const stay = failure === null ? n : n > 1 ? keepable(fleet, ask, i, n) : 0;
    for (let k = 0; k < stay; k++) kept.push(i);
    for (let k = stay; k < n; k++) leave.push({ host: name, reason: leaveReason(failure!) });
    if (stay === 0) filtered.push({ host: name, reason: failure! });
  }
  const count = Math.max(0, Math.floor(ask.spec.count));
  if (kept.length > count) {
    const dropped = scaleDown(fleet, ask, kept, kept.length - count);
    // one instance per entry: a host named twice in `dropped` loses two of its replicas
    const gone = new Map<number, number>();
    for (const i of dropped) {
      leave.push({ host: fleet.hosts[i]!.name, reason: 'scaled down' });
      gone.set(i, (gone.get(i) ?? 0) + 1);
    }
    kept = kept.filter((i) => {
      const n = gone.get(i) ?? 0;
      if (n > 0) gone.set(i, n - 1);
      return n === 0;
    });
  }
  const need = count - kept.length;
  const allowed = Math.max(0, Math.min(need, opts.maxNew ?? need));
  const extra = new Map<number, number>();
  const chosen = allowed > 0 ? search(fleet, ask, kept, allowed, mark, extra) : [];
  const unplaced = allowed - chosen.length;
  if (opts.explain === true || unplaced > 0) {
    const mine = new Set(kept);
    for (let i = 0; i < fleet.hosts.length; i++) {
      if (fleet.marks[i] === mark) {
        // a host of the cluster: why it takes no more of it (a fixed port, cores, memory)
        const full = mine.has(i) || extra.has(i) ? noMore(fleet, ask, i, extra.get(i) ?? 0) : null;
        if (full !== null && unplaced > 0) filtered.push({ host: fleet.hosts[i]!.name, reason: full });
        continue;
      }
      const failure = firstFailure(fleet.hosts[i]!, ask);
      if (failure !== null) filtered.push({ host: fleet.hosts[i]!.name, reason: failure });
    }
  }
  const keep = kept.map((i) => fleet.hosts[i]!.name);
  const add = chosen.map((i) => ({ host: fleet.hosts[i]!.name, reason: addReason(fleet, ask, i) }));
  return {
    tag: ask.tag,
    placements: countByHost([...keep, ...add.map((a) => a.host)]),
    filtered,
    unplaced,
    keep,
    add,
    leave,
    deferred: need - allowed,
  };
}

/** The hosts an applied plan leaves the cluster on, each once. */
export function placedHosts(plan: ClusterPlan): string[] {
  return plan.placements.map((p) => p.host);
}

function addReason(fleet: Fleet, ask: PlaceAsk, i: number): string {
  const label = ask.spec.spread;
  if (label === null) return 'bin-packing';
  const value = fleet.hosts[i]!.labels[label];
  return value === undefined ? `spread over ${label}: no value left` : `spread over ${label}: ${label}=${value}`;
}

/** The fullness of host i today (scale down and rebalance take the emptiest first). */
export function hostFullness(fleet: Fleet, i: number): number {
  const h = fleet.hosts[i]!;
  return fullness(h.capacity, h.allocated);
}

/**
 * Which `n` of the kept hosts lose their instance: under bin-packing the emptiest (what is left
 * frees hosts), under spread the emptiest host of the most crowded label value, one at a time
 * (hosts without the label first).
 */
function scaleDown(fleet: Fleet, ask: PlaceAsk, kept: number[], n: number): number[] {
  const byEmptiest = [...kept].sort((a, b) => hostFullness(fleet, a) - hostFullness(fleet, b));
  const label = ask.spec.spread;
  if (label === null) return byEmptiest.slice(0, n);
  const groups = new Map<string | undefined, number[]>();
  for (const i of byEmptiest) {
    const labels = fleet.hosts[i]!.labels;
    const value = Object.hasOwn(labels, label) ? labels[label] : undefined;
    const g = groups.get(value);
    if (g === undefined) groups.set(value, [i]);
    else g.push(i);
  }
  const out: number[] = [];
  while (out.length < n) {
    let worst: number[] | undefined;
    const unlabelled = groups.get(undefined);
    if (unlabelled !== undefined && unlabelled.length > 0) worst = unlabelled;
    else for (const g of groups.values()) if (worst === undefined || g.length > worst.length) worst = g;
    out.push(worst!.shift()!);
  }
  return out;
}

/**
 * Chooses up to `n` new instances' hosts, marking each; answers them in the order chosen (a host
 * once per instance). `extra` counts, per host, the instances this search gave it.
 */
function search(fleet: Fleet, ask: PlaceAsk, kept: number[], n: number, mark: number, extra: Map<number, number>): number[] {
  if (ask.spec.spread !== null) return searchSpread(fleet, ask, ask.spec.spread, kept, n, mark, extra);
  const seeds = keptCandidates(fleet, ask, kept);
  const source = equalitySource(fleet, ask);
  if (source === null) return pick(fleet, ask, n, mark, BINPACK_LIMIT, levelStream(fleet, ask, mark), extra, seeds);
  // sorted by fullness when the plan takes enough of them to pay for it (a few hosts per instance)
  if (source.length <= SORT_SOURCE_MAX || source.length <= SORT_PER_INSTANCE * n)
    return pick(fleet, ask, n, mark, BINPACK_LIMIT, listStream(fleet, ask, mark, byFullness(fleet, source)), extra, seeds);
  return pick(fleet, ask, n, mark, UNORDERED_LIMIT, listStream(fleet, ask, mark, source), extra, seeds);
}

/** The usable hosts level by level, fullest first, skipping levels whose hosts cannot fit the ask. */
function levelStream(fleet: Fleet, ask: PlaceAsk, mark: number): Stream {
  const { cpu, memory } = ask.spec;
  let level = LEVELS - 1;
  let k = 0;
  let maxCpu = 0;
  let maxMemory = 0;
  return () => {
    while (level >= 0) {
      const list = fleet.levels[level]!;
      if (k === 0 && (cpu > fleet.boundCpu[level]! + 1e-9 || memory > fleet.boundMemory[level]!)) {
        level--;
        continue;
      }
      while (k < list.length) {
        const i = list[k++]!;
        const fc = fleet.freeCpu(i);
        const fm = fleet.freeMemory(i);
        if (fc > maxCpu) maxCpu = fc;
        if (fm > maxMemory) maxMemory = fm;
        if (fleet.marks[i] !== mark && feasible(fleet.hosts[i]!, ask)) return i;
      }
      // every host of the level seen: its bounds are now exact
      fleet.tighten(level, maxCpu, maxMemory);
      level--;
      k = 0;
      maxCpu = 0;
      maxMemory = 0;
    }
    return -1;
  };
}

/** The usable hosts of a list, in its order. */
function listStream(fleet: Fleet, ask: PlaceAsk, mark: number, list: readonly number[]): Stream {
  let k = 0;
  return () => {
    while (k < list.length) {
      const i = list[k++]!;
      if (fleet.usable[i] === 1 && fleet.marks[i] !== mark && feasible(fleet.hosts[i]!, ask)) return i;
    }
    return -1;
  };
}

/** The hosts of the smallest `label=value` set the ask's constraints name, or null without one. */
function equalitySource(fleet: Fleet, ask: PlaceAsk): readonly number[] | null {
  let source: readonly number[] | null = null;
  for (const c of ask.spec.constraints) {
    if (c.op !== '=') continue;
    const list = fleet.byLabel(c.label).values.get(c.value) ?? [];
    if (source === null || list.length < source.length) source = list;
  }
  return source;
}

/** A list's hosts, fullest first (a counting sort by level). */
function byFullness(fleet: Fleet, list: readonly number[]): number[] {
  const buckets: number[][] = Array.from({ length: LEVELS }, () => []);
  for (const i of list) {
    const l = fleet.level(i);
    if (l >= 0) buckets[l]!.push(i);
  }
  const out: number[] = [];
  for (let l = LEVELS - 1; l >= 0; l--) for (const i of buckets[l]!) out.push(i);
  return out;
}

/** One label value's candidates under spread. */
interface SpreadValue {
  count: number;
  /** the value's hosts */
  list: readonly number[];
  /** hosts of the value without an instance of the cluster, drawn from `next` once it is set */
  fresh: Fresh | null;
  /** hosts of the value that run one and take another (see `pick`) */
  replicas: number[];
  done: boolean;
}

/**
 * Spread: each new instance goes to the value with the fewest instances of the cluster (kept ones
 * counted); within the value, as `pick` chooses (a used host without the cluster, else a replica,
 * else an empty host); hosts without the label only when every value is exhausted.
 */
function searchSpread(
  fleet: Fleet,
  ask: PlaceAsk,
  label: string,
  kept: number[],
  n: number,
  mark: number,
  extra: Map<number, number>,
): number[] {
  const index = fleet.byLabel(label);
  const counts = new Map<string, number>();
  for (const i of kept) {
    const v = fleet.hosts[i]!.labels[label];
    if (v !== undefined && Object.hasOwn(fleet.hosts[i]!.labels, label)) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  // the cluster's own hosts with room are its value's replicas (or the unlabelled's)
  const seeds = new Map<string | undefined, number[]>();
  for (const i of keptCandidates(fleet, ask, kept)) {
    const labels = fleet.hosts[i]!.labels;
    const v = Object.hasOwn(labels, label) ? labels[label] : undefined;
    seeds.set(v, [...(seeds.get(v) ?? []), i]);
  }
  const values: SpreadValue[] = [];
  for (const [value, list] of index.values)
    values.push({ count: counts.get(value) ?? 0, list, fresh: null, replicas: [...(seeds.get(value) ?? [])], done: false });
  const chosen: number[] = [];
  while (chosen.length < n) {
    let v: SpreadValue | undefined;
    for (const c of values) if (!c.done && (v === undefined || c.count < v.count)) v = c;
    if (v === undefined) break;
    // a value's hosts are put in fullness order when first drawn from (small plans touch few values)
    v.fresh ??= {
      hosts: [],
      scores: [],
      next: listStream(fleet, ask, mark, v.list.length <= SORT_SOURCE_MAX ? byFullness(fleet, v.list) : v.list),
      limit: SPREAD_LIMIT,
    };
    const i = choose(fleet, ask, v.fresh, v.replicas, extra);
    if (i < 0) {
      v.done = true;
      continue;
    }
    fleet.marks[i] = mark;
    v.count++;
    chosen.push(i);
  }
  if (chosen.length < n) {
    const missing = listStream(fleet, ask, mark, byFullness(fleet, index.missing));
    const rest = pick(fleet, ask, n - chosen.length, mark, SPREAD_LIMIT, missing, extra, seeds.get(undefined) ?? []);
    chosen.push(...rest);
  }
  return chosen;
}
