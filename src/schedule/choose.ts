/**
 * How one new instance's host is chosen among the candidates a plan draws (plan.ts): a used host
 * that runs none of the cluster first, then a replica on one of the cluster's hosts, then an empty
 * host (docs/scheduler.md, "Replicas"). Pure: the fleet's scratch marks and the plan's `extra`
 * counts are the only state.
 */
import { EMPTY_LEVELS, type Fleet } from './fleet.js';
import { takesAnother } from './replicas.js';
import { binpack } from './scorers.js';
import type { PlaceAsk } from './types.js';

/** A stream of feasible, unmarked hosts; -1 when there are no more. */
export type Stream = () => number;

/**
 * Takes `n` instances' hosts. Each goes, in this order of preference (Nomad's job anti-affinity,
 * scheduler/rank.go, which ranks a node that runs the job below one that does not):
 *
 *   1. a used host that runs no instance of the cluster yet: the best bin-packing score among the
 *      next `limit` feasible candidates;
 *   2. a host that runs one already (`seeds`: the cluster's own hosts with room; or chosen by this
 *      plan) and takes another: its replica, the fullest of the first `limit` of them;
 *   3. an empty host (the biggest first): opened only when neither of the above is left.
 *
 * So a cluster runs on as many hosts as the used ones with room allow (one host's failure takes
 * fewer of its instances, and a host packed full by one cluster leaves no room for the next one's
 * instances, which would then open new hosts), and its replicas fill hosts before an empty one is
 * opened (bin-packing).
 */
export function pick(
  fleet: Fleet,
  ask: PlaceAsk,
  n: number,
  mark: number,
  limit: number,
  next: Stream,
  extra: Map<number, number>,
  seeds: readonly number[] = [],
): number[] {
  const chosen: number[] = [];
  const fresh: Fresh = { hosts: [], scores: [], next, limit };
  const replicas: number[] = [...seeds];
  while (chosen.length < n) {
    const i = choose(fleet, ask, fresh, replicas, extra);
    if (i < 0) break;
    fleet.marks[i] = mark;
    chosen.push(i);
  }
  return chosen;
}

/**
 * The hosts of (1) and (3) in `pick`, drawn from a stream up to `limit` at a time, with their
 * scores: a waiting host's score does not change (nothing is placed on it until it is chosen),
 * so it is computed once.
 */
export interface Fresh {
  hosts: number[];
  scores: number[];
  /** the stream they come from; null once it ran dry */
  next: Stream | null;
  limit: number;
}

/**
 * One choice of `pick` (and of a spread value): a used host without the cluster, else a replica,
 * else an empty host. The host chosen counts one more instance in `extra`; it leaves `fresh` for
 * `replicas` while it takes another, and leaves `replicas` once it takes no more. Answers -1 when
 * there is none.
 */
export function choose(fleet: Fleet, ask: PlaceAsk, fresh: Fresh, replicas: number[], extra: Map<number, number>): number {
  while (fresh.next !== null && fresh.hosts.length < fresh.limit) {
    const c = fresh.next();
    if (c < 0) fresh.next = null;
    else {
      fresh.hosts.push(c);
      fresh.scores.push(score(fleet, ask, c, 0));
    }
  }
  let at = -1;
  for (let k = 0; k < fresh.hosts.length; k++) if (at < 0 || fresh.scores[k]! > fresh.scores[at]!) at = k;
  // a used host scores 0 or more, an empty one below (see `score`)
  if (at < 0 || fresh.scores[at]! < 0) {
    if (replicas.length > 0) {
      const r = best(fleet, ask, replicas, extra, fresh.limit);
      const i = replicas[r]!;
      const placed = (extra.get(i) ?? 0) + 1;
      if (!takesAnother(fleet, ask, i, placed)) take(replicas, r);
      extra.set(i, placed);
      return i;
    }
    if (at < 0) return -1;
  }
  const i = take(fresh.hosts, at);
  take(fresh.scores, at);
  // one instance here now; a replica host from here while another fits
  extra.set(i, 1);
  if (takesAnother(fleet, ask, i, 1)) replicas.push(i);
  return i;
}

/** Takes the entry at `at` out of `list` (its last one moved there) and answers it. */
function take(list: number[], at: number): number {
  const i = list[at]!;
  list[at] = list[list.length - 1]!;
  list.pop();
  return i;
}

/**
 * Host i's score for one more instance, `placed` given by this plan already: its bin-packing fit
 * after placing (0 to 1); an empty host below every used one, the biggest first (it will hold the
 * most): -EMPTY_LEVELS to -1.
 */
function score(fleet: Fleet, ask: PlaceAsk, i: number, placed: number): number {
  const level = fleet.level(i);
  return level < EMPTY_LEVELS && placed === 0 ? level - EMPTY_LEVELS : binpack(fleet.hosts[i]!, ask, placed);
}

/** The position among the first `upTo` hosts of `list` of the best `score`. */
function best(fleet: Fleet, ask: PlaceAsk, list: readonly number[], extra: ReadonlyMap<number, number>, upTo: number): number {
  let at = 0;
  let top = -Infinity;
  const end = Math.min(upTo, list.length);
  for (let k = 0; k < end; k++) {
    const s = score(fleet, ask, list[k]!, extra.get(list[k]!) ?? 0);
    if (s > top) {
      top = s;
      at = k;
    }
  }
  return at;
}
