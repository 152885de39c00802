/**
 * The fleet as the scheduler sees it, with the indexes that keep a placement from scanning every
 * host: usable hosts in levels of fullness (bin-packing looks at the fullest first, and skips a
 * level whose hosts cannot fit the ask), hosts by label value (spread and `=` constraints), and a
 * scratch mark per host for one plan. `apply` records a plan in place: allocations, ports, jobs
 * and the host's level change, nothing is rebuilt.
 */
import { fullness } from './scorers.js';
import type { ClusterPlan, PlaceAsk, SchedHost } from './types.js';

/**
 * Levels: the first EMPTY_LEVELS hold the hosts with nothing allocated, by size (the biggest
 * highest: a cluster that must open a new host opens the one that will hold the most), the others
 * the used hosts by fullness. The search reads them from the top: the fullest used host first.
 */
export const EMPTY_LEVELS = 16;
export const LEVELS = EMPTY_LEVELS + 127;

/** The hosts with one label, by its value, and those without it. */
export interface LabelIndex {
  values: Map<string, number[]>;
  missing: number[];
}

/** Hosts, their indexes, and the allocations updated in place as plans are applied. */
export class Fleet {
  /** every host, in the order given (a host's number is its position here) */
  readonly hosts: SchedHost[];
  private readonly numbers = new Map<string, number>();
  /** up, not draining, with a capacity: the only hosts the search looks at */
  readonly usable: Uint8Array;
  /** each usable host's level of fullness (-1: not usable) */
  private readonly levelOf: Int16Array;
  /** where the host sits in its level's list */
  private readonly slot: Int32Array;
  /** the usable hosts of each level */
  readonly levels: number[][] = [];
  /** per level: no host in it has more free cores (an upper bound, tightened by a full scan) */
  readonly boundCpu = new Float64Array(LEVELS);
  /** per level: no host in it has more free bytes of memory (an upper bound) */
  readonly boundMemory = new Float64Array(LEVELS);
  private readonly labelIndexes = new Map<string, LabelIndex>();
  /** scratch marks of one plan: `marks[i] === mark` marks host i (see `nextMark`) */
  readonly marks: Int32Array;
  private mark = 0;
  /** each host's size class among the fleet's (0: the smallest), its level while empty */
  private readonly sizeClass: Uint8Array;

  /** Takes the hosts as they are; `apply` changes them in place. */
  constructor(hosts: SchedHost[]) {
    this.hosts = hosts;
    const n = hosts.length;
    this.usable = new Uint8Array(n);
    this.levelOf = new Int16Array(n).fill(-1);
    this.slot = new Int32Array(n);
    this.marks = new Int32Array(n);
    for (let l = 0; l < LEVELS; l++) this.levels.push([]);
    this.sizeClass = sizeClasses(hosts);
    for (let i = 0; i < n; i++) {
      const h = hosts[i]!;
      this.numbers.set(h.name, i);
      const hasCapacity = h.capacity.cpu > 0 || h.capacity.memory > 0;
      if (h.up && !h.unheard && !h.draining && hasCapacity) {
        this.usable[i] = 1;
        this.place(i);
      }
    }
  }

  /** A host's number, or undefined for a name the fleet does not hold. */
  numberOf(name: string): number | undefined {
    return this.numbers.get(name);
  }

  /** A host by name. */
  host(name: string): SchedHost | undefined {
    const i = this.numbers.get(name);
    return i === undefined ? undefined : this.hosts[i];
  }

  /** A fresh mark for one plan's scratch (no clearing: an older mark never equals it). */
  nextMark(): number {
    this.mark = this.mark === 0x7fffffff ? 1 : this.mark + 1;
    if (this.mark === 1) this.marks.fill(0);
    return this.mark;
  }

  /** The level of a host's fullness today. */
  level(i: number): number {
    return this.levelOf[i]!;
  }

  /** The hosts by value of one label (built on first use; labels do not change in a fleet). */
  byLabel(label: string): LabelIndex {
    let index = this.labelIndexes.get(label);
    if (index === undefined) {
      index = { values: new Map(), missing: [] };
      for (let i = 0; i < this.hosts.length; i++) {
        const labels = this.hosts[i]!.labels;
        if (!Object.hasOwn(labels, label)) {
          index.missing.push(i);
          continue;
        }
        const value = labels[label]!;
        const list = index.values.get(value);
        if (list === undefined) index.values.set(value, [i]);
        else list.push(i);
      }
      this.labelIndexes.set(label, index);
    }
    return index;
  }

  /** Records a plan: what leaves gives its ask back, what is added takes it (the ask's `current` is the caller's to update). */
  apply(plan: ClusterPlan, ask: PlaceAsk): void {
    for (const { host } of plan.leave) {
      const i = this.numbers.get(host);
      if (i !== undefined) this.release(i, ask);
    }
    for (const { host } of plan.add) {
      const i = this.numbers.get(host);
      if (i !== undefined) this.take(i, ask);
    }
  }

  /** One instance of the ask lands on host i. */
  take(i: number, ask: PlaceAsk): void {
    const h = this.hosts[i]!;
    h.allocated.cpu += ask.spec.cpu;
    h.allocated.memory += ask.spec.memory;
    h.jobs.push(ask.job);
    if (ask.spec.distinctHosts) (h.distinctJobs ??= []).push(ask.job);
    for (const p of ask.ports) h.ports.push(p);
    this.relevel(i);
  }

  /** One instance of the ask leaves host i. */
  release(i: number, ask: PlaceAsk): void {
    const h = this.hosts[i]!;
    h.allocated.cpu = Math.max(0, h.allocated.cpu - ask.spec.cpu);
    h.allocated.memory = Math.max(0, h.allocated.memory - ask.spec.memory);
    removeOne(h.jobs, ask.job);
    if (ask.spec.distinctHosts && h.distinctJobs !== undefined) removeOne(h.distinctJobs, ask.job);
    for (const p of ask.ports) removeOne(h.ports, p);
    this.relevel(i);
  }

  /** Free cores of host i. */
  freeCpu(i: number): number {
    const h = this.hosts[i]!;
    return h.capacity.cpu - h.allocated.cpu;
  }

  /** Free bytes of memory of host i. */
  freeMemory(i: number): number {
    const h = this.hosts[i]!;
    return h.capacity.memory - h.allocated.memory;
  }

  /** Tightens a level's bounds after a scan saw every host in it. */
  tighten(level: number, maxCpu: number, maxMemory: number): void {
    this.boundCpu[level] = maxCpu;
    this.boundMemory[level] = maxMemory;
  }

  private levelFor(i: number): number {
    const h = this.hosts[i]!;
    // an empty host never shares a level with a used one: bin-packing takes it last
    if (h.allocated.cpu <= 0 && h.allocated.memory <= 0) return this.sizeClass[i]!;
    const used = LEVELS - EMPTY_LEVELS;
    return EMPTY_LEVELS + Math.min(used - 1, Math.max(0, Math.floor(fullness(h.capacity, h.allocated) * used)));
  }

  private place(i: number): void {
    const l = this.levelFor(i);
    this.levelOf[i] = l;
    this.slot[i] = this.levels[l]!.length;
    this.levels[l]!.push(i);
    this.raise(i, l);
  }

  private raise(i: number, l: number): void {
    this.boundCpu[l] = Math.max(this.boundCpu[l]!, this.freeCpu(i));
    this.boundMemory[l] = Math.max(this.boundMemory[l]!, this.freeMemory(i));
  }

  private relevel(i: number): void {
    const old = this.levelOf[i]!;
    if (old < 0) return;
    const l = this.levelFor(i);
    if (l === old) {
      this.raise(i, l);
      return;
    }
    const list = this.levels[old]!;
    const at = this.slot[i]!;
    const last = list.pop()!;
    if (last !== i) {
      list[at] = last;
      this.slot[last] = at;
    }
    this.place(i);
  }
}

/** Each host's size class, 0 ... EMPTY_LEVELS - 1, by its cores and memory against the fleet's biggest. */
function sizeClasses(hosts: SchedHost[]): Uint8Array {
  let maxCpu = 0;
  let maxMemory = 0;
  for (const h of hosts) {
    maxCpu = Math.max(maxCpu, h.capacity.cpu);
    maxMemory = Math.max(maxMemory, h.capacity.memory);
  }
  const size = (h: SchedHost): number => (maxCpu > 0 ? h.capacity.cpu / maxCpu : 0) + (maxMemory > 0 ? h.capacity.memory / maxMemory : 0);
  let min = Infinity;
  let max = 0;
  for (const h of hosts) {
    const s = size(h);
    min = Math.min(min, s);
    max = Math.max(max, s);
  }
  const out = new Uint8Array(hosts.length);
  if (max <= min) return out;
  hosts.forEach((h, i) => {
    out[i] = Math.min(EMPTY_LEVELS - 1, Math.floor(((size(h) - min) / (max - min)) * EMPTY_LEVELS));
  });
  return out;
}

function removeOne<T>(list: T[], item: T): void {
  const at = list.indexOf(item);
  if (at >= 0) {
    list[at] = list[list.length - 1]!;
    list.pop();
  }
}
