/**
 * `noops rebalance`: moves, within a budget, that pack the fleet tighter. Nomad has none (its
 * issue #1635); Borg's papers show what packing buys. Two kinds, spread first:
 *
 *   spread over L   a cluster whose values of L differ by more than one instance moves one from
 *                   the most crowded value to the least crowded that has room, until even
 *   bin-packing     the emptiest hosts are emptied into fuller ones, a whole host at a time: a
 *                   host is freed only when every scheduled instance on it finds a place (and
 *                   the budget covers them all), else nothing of it moves
 *
 * A move is one instance: a host that runs several replicas of a cluster is freed by as many
 * moves, and a spread counts instances, not hosts. A move may land on a host that runs the cluster
 * already when the filters allow another replica there (no distinct hosts, no fixed port taken).
 *
 * Pure: the fleet and the asks given are not changed (the moves are worked out on copies).
 */
import type { RebalanceMoveView, RebalanceView } from '../api/index.js';
import { feasible, meets } from './filters.js';
import { Fleet } from './fleet.js';
import { hostFullness } from './plan.js';
import { NO_HOST, Targets } from './targets.js';
import type { PlaceAsk, SchedHost } from './types.js';

/** One cluster's instances being moved: its ask and its hosts with their instance counts, kept current move by move. */
interface Moving {
  ask: PlaceAsk;
  hosts: Map<number, number>;
}

/**
 * The moves that free whole hosts or even out a label, at most `maxMoves`, in the order to make
 * them. `dryRun` is false: the caller sets it (`--dry-run` makes none of them).
 */
export function planRebalance(fleet: Fleet, asks: PlaceAsk[], maxMoves: number): RebalanceView {
  const copy = new Fleet(fleet.hosts.map(cloneHost));
  const moving: Moving[] = asks.map((ask) => {
    const hosts = new Map<number, number>();
    for (const h of ask.current) {
      const i = copy.numberOf(h);
      if (i !== undefined) hosts.set(i, (hosts.get(i) ?? 0) + 1);
    }
    return { ask, hosts };
  });
  const before = scheduledHosts(moving);
  const moves: RebalanceMoveView[] = [];
  let budget = Math.max(0, Math.floor(maxMoves));
  for (const m of moving) {
    if (budget === 0) break;
    if (m.ask.spec.spread !== null) budget -= evenOut(copy, m, m.ask.spec.spread, budget, moves);
  }
  if (budget > 0) freeHosts(copy, moving, budget, moves);
  const after = scheduledHosts(moving);
  const freedHosts = [...before]
    .filter((i) => !after.has(i))
    .map((i) => copy.hosts[i]!.name)
    .sort();
  return { dryRun: false, moves, freedHosts };
}

function cloneHost(h: SchedHost): SchedHost {
  return {
    ...h,
    capacity: { ...h.capacity },
    allocated: { ...h.allocated },
    ports: [...h.ports],
    jobs: [...h.jobs],
    ...(h.distinctJobs === undefined ? {} : { distinctJobs: [...h.distinctJobs] }),
  };
}

function scheduledHosts(moving: Moving[]): Set<number> {
  const out = new Set<number>();
  for (const m of moving) for (const i of m.hosts.keys()) out.add(i);
  return out;
}

/** Moves one instance of `m` from host `from` to host `to`, in the copy. */
function move(fleet: Fleet, m: Moving, from: number, to: number): void {
  fleet.release(from, m.ask);
  fleet.take(to, m.ask);
  const left = (m.hosts.get(from) ?? 1) - 1;
  if (left > 0) m.hosts.set(from, left);
  else m.hosts.delete(from);
  m.hosts.set(to, (m.hosts.get(to) ?? 0) + 1);
}

/** The fullest host of `candidates` that may take one more instance of `m`, or -1. */
function fullestFit(fleet: Fleet, m: Moving, candidates: Iterable<number>, exclude: ReadonlySet<number>): number {
  let bestHost = -1;
  let top = -Infinity;
  for (const i of candidates) {
    if (fleet.usable[i] !== 1 || exclude.has(i) || !feasible(fleet.hosts[i]!, m.ask)) continue;
    const f = hostFullness(fleet, i);
    if (f > top) {
      top = f;
      bestHost = i;
    }
  }
  return bestHost;
}

/** Evens out one spread cluster over its label; answers the moves made. */
function evenOut(fleet: Fleet, m: Moving, label: string, budget: number, moves: RebalanceMoveView[]): number {
  const index = fleet.byLabel(label);
  const constraintsOk = (value: string): boolean => m.ask.spec.constraints.every((c) => c.label !== label || meets({ [label]: value }, c));
  const values = [...index.values.keys()].filter((v) => constraintsOk(v) && index.values.get(v)!.some((i) => fleet.usable[i] === 1));
  let made = 0;
  const none = new Set<number>();
  while (made < budget) {
    const counts = new Map(values.map((v) => [v, 0]));
    for (const [i, n] of m.hosts) {
      const v = fleet.hosts[i]!.labels[label];
      if (v !== undefined && counts.has(v)) counts.set(v, counts.get(v)! + n);
    }
    const ranked = [...counts.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    if (ranked.length < 2) break;
    const [crowded, most] = ranked[ranked.length - 1]!;
    let moved = false;
    for (const [sparse, least] of ranked) {
      if (most - least <= 1) break;
      const to = fullestFit(fleet, m, index.values.get(sparse)!, none);
      if (to < 0) continue;
      const from = [...m.hosts.keys()]
        .filter((i) => fleet.hosts[i]!.labels[label] === crowded)
        .sort((a, b) => hostFullness(fleet, a) - hostFullness(fleet, b))[0]!;
      move(fleet, m, from, to);
      moves.push({
        tag: m.ask.tag,
        from: fleet.hosts[from]!.name,
        to: fleet.hosts[to]!.name,
        reason: `even out ${label}: ${label}=${crowded} had ${most}, ${label}=${sparse} ${least}`,
      });
      made++;
      moved = true;
      break;
    }
    if (!moved) break;
  }
  return made;
}

/** Empties the emptiest hosts into fuller ones, a whole host at a time, within the budget. */
function freeHosts(fleet: Fleet, moving: Moving[], budget: number, moves: RebalanceMoveView[]): void {
  // each host's instances to move, one entry per instance (a cluster's replicas each)
  const onHost = new Map<number, Moving[]>();
  for (const m of moving) {
    for (const [i, n] of m.hosts) {
      let list = onHost.get(i);
      if (list === undefined) onHost.set(i, (list = []));
      for (let k = 0; k < n; k++) list.push(m);
    }
  }
  // each host's fullness, kept as moves are made; the targets fullest first (sorted once: a
  // move changes two hosts' fullness a little, so the order stays close)
  const full = new Float64Array(fleet.hosts.length);
  for (const i of onHost.keys()) full[i] = hostFullness(fleet, i);
  const targets = new Targets(
    fleet,
    [...onHost.keys()].sort((a, b) => full[b]! - full[a]!),
    full,
  );
  // a host with a spread cluster's instance stays (moving it would undo the spread); so does a
  // host that is down, unheard or draining: moving what it holds is the loop's migration, within
  // its budget (a rebalance must not empty the hosts a network split keeps)
  const sources = [...onHost.entries()]
    .filter(([i, ms]) => fleet.usable[i] === 1 && ms.every((m) => m.ask.spec.spread === null))
    .sort((a, b) => full[a[0]]! - full[b[0]]! || a[1].length - b[1].length);
  const freed = new Set<number>();
  // hosts that took an instance in this rebalance: freeing one would move that instance twice
  const received = new Set<number>();
  let left = budget;
  // a host that cannot be emptied costs a look at the fuller hosts: give up after a bounded number of them
  let tries = 4 * budget + 16;
  const refresh = (i: number): void => {
    full[i] = hostFullness(fleet, i);
    targets.update(i);
  };
  for (const [from, ms] of sources) {
    if (ms.length > left || received.has(from)) continue;
    if (tries-- === 0) break;
    const level = full[from]!;
    const done: { m: Moving; to: number }[] = [];
    for (const m of ms) {
      // the first target in order, fullest first, at least as full as `from` was, that may take it
      const { cpu, memory } = m.ask.spec;
      const to = targets.first(
        level,
        cpu,
        memory,
        (i) => i !== from && !freed.has(i) && fleet.usable[i] === 1 && feasible(fleet.hosts[i]!, m.ask),
      );
      if (to === NO_HOST) break;
      move(fleet, m, from, to);
      refresh(to);
      targets.update(from); // its fullness as kept (`level`) stays until it is freed; its room grew
      done.push({ m, to });
    }
    if (done.length < ms.length) {
      for (const { m, to } of done.reverse()) {
        move(fleet, m, to, from);
        refresh(to);
        targets.update(from);
      }
      continue;
    }
    refresh(from);
    freed.add(from);
    for (const { to } of done) received.add(to);
    left -= done.length;
    for (const { m, to } of done)
      moves.push({
        tag: m.ask.tag,
        from: fleet.hosts[from]!.name,
        to: fleet.hosts[to]!.name,
        reason: `free host ${fleet.hosts[from]!.name}`,
      });
    if (left === 0) break;
  }
}
