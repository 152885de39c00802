/**
 * The hosts a rebalance may empty others into, in a fixed order (fullest first, sorted once), with
 * what a search in that order needs to skip ranges of them unseen: a segment tree that keeps, per
 * range, the least fullness and the most free cores and free memory of its hosts. `first` answers
 * the same host as a scan in order that stops at the first host emptier than `level`, and
 * otherwise takes the first host `accept` takes, provided `accept` refuses every host without the
 * cores or the memory asked (as `feasible` does). A range none of whose hosts would stop the scan
 * or has the room is not looked into: on a big fleet most fuller hosts are full, and a scan of
 * them was most of a rebalance's time.
 */
import type { Fleet } from './fleet.js';

/** `first` found no host: the scan ran past every host, or stopped at an emptier one. */
export const NO_HOST = -1;

/** The targets of a rebalance: see the file's comment. */
export class Targets {
  /** leaves: the smallest power of two at least the number of hosts */
  private readonly size: number;
  private readonly minFull: Float64Array;
  private readonly maxCpu: Float64Array;
  private readonly maxMemory: Float64Array;
  /** a host's position in `order` (-1: not a target) */
  private readonly position: Int32Array;

  /** `order`: host numbers, in the order to look at them; `full`: each host's fullness, as the caller keeps it (read again by `update`). */
  constructor(
    private readonly fleet: Fleet,
    private readonly order: readonly number[],
    private readonly full: Float64Array,
  ) {
    let size = 1;
    while (size < order.length) size *= 2;
    this.size = size;
    this.minFull = new Float64Array(2 * size).fill(Infinity);
    this.maxCpu = new Float64Array(2 * size).fill(-Infinity);
    this.maxMemory = new Float64Array(2 * size).fill(-Infinity);
    this.position = new Int32Array(fleet.hosts.length).fill(-1);
    order.forEach((host, p) => {
      this.position[host] = p;
      this.setLeaf(p, host);
    });
    for (let node = size - 1; node >= 1; node--) this.pull(node);
  }

  /** Reads a host's fullness (from `full`) and free cores and memory (from the fleet) again, after a change. */
  update(host: number): void {
    const p = this.position[host]!;
    if (p < 0) return;
    this.setLeaf(p, host);
    for (let node = (this.size + p) >> 1; node >= 1; node >>= 1) this.pull(node);
  }

  /**
   * The first host in order that is emptier than `level` (then NO_HOST: the scan stops there) or
   * that `accept` takes (then that host), among the hosts that could hold `cpu` and `memory`;
   * NO_HOST past the last.
   */
  first(level: number, cpu: number, memory: number, accept: (host: number) => boolean): number {
    const found = this.search(1, level, cpu, memory, accept);
    return found < 0 ? NO_HOST : found;
  }

  /** In the subtree of `node`: a host (>= 0), STOP (-2: an emptier host came first), or NOT_HERE (-1). */
  private search(node: number, level: number, cpu: number, memory: number, accept: (host: number) => boolean): number {
    const stops = this.minFull[node]! < level;
    // the same test as `feasible`'s (a tolerance for sums of fractions of cores), against the range's most
    const room = !(cpu > 0 && cpu > this.maxCpu[node]! + 1e-9) && !(memory > 0 && memory > this.maxMemory[node]!);
    if (!stops && !room) return NOT_HERE;
    if (node >= this.size) {
      const p = node - this.size;
      if (p >= this.order.length) return NOT_HERE; // a leaf past the last host (the tree's size is a power of two)
      const host = this.order[p]!;
      if (stops) return STOP;
      return accept(host) ? host : NOT_HERE;
    }
    const left = this.search(2 * node, level, cpu, memory, accept);
    if (left !== NOT_HERE) return left;
    return this.search(2 * node + 1, level, cpu, memory, accept);
  }

  private setLeaf(p: number, host: number): void {
    const node = this.size + p;
    this.minFull[node] = this.full[host]!;
    this.maxCpu[node] = this.fleet.freeCpu(host);
    this.maxMemory[node] = this.fleet.freeMemory(host);
  }

  private pull(node: number): void {
    const l = 2 * node;
    const r = l + 1;
    this.minFull[node] = Math.min(this.minFull[l]!, this.minFull[r]!);
    this.maxCpu[node] = Math.max(this.maxCpu[l]!, this.maxCpu[r]!);
    this.maxMemory[node] = Math.max(this.maxMemory[l]!, this.maxMemory[r]!);
  }
}

const NOT_HERE = -1;
const STOP = -2;
