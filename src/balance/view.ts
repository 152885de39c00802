/**
 * The pools as they should be, on every server: each pool's members from the one read model of
 * what runs (monitor/'s `ActualState`, through naming's `NamingSource`), the hosts' rows (their
 * addresses), the drain marks and the pools stored; each balancer host's `DesiredBalancers`
 * with its index; parked polls that wake when a host's index moves; the balancers' last reports.
 *
 * Worked out again when a host reports (only when what it runs changed), when a host's liveness
 * runs out (each live host waits in naming's `LivenessWheel` for the moment its last heartbeat
 * gets too old: time passing costs a look at the hosts due, not a sweep of every host), when a
 * drain mark expires (a timer at the first `until`), and when the pools, marks or reports are
 * read again (`reload`, on the bus's `balancers` channel). With no pool stored, a report costs
 * one comparison.
 */
import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import {
  type BalancerMember,
  type BalancerView as PoolRow,
  type DesiredBalancer,
  type DesiredBalancers,
  type DesiredMember,
  processAddress,
  replicaOf,
} from '../api/index.js';
import { Waiters } from '../bus/index.js';
import { LivenessWheel, type NamingSource } from '../naming/index.js';
import type { HostRow } from '../store/index.js';
import { isUnder } from '../tree/index.js';
import { type Candidate, balancersIndex, desiredPool, indexOfDigests, liveMarks, membersOf, poolDigest, selects } from './members.js';
import type { BalanceStore, DrainMark, StoredBalancerReport } from './ports.js';

/** How the view is tuned; the defaults suit a server. */
export interface PoolViewOptions {
  /** how often the hosts' rows (addresses) are read again */
  hostsRefreshMs?: number;
  /** how often the pools, marks and reports are read again though the bus said nothing (a lost message) */
  reloadMs?: number;
}

/**
 * The diagnostics channel of each balancer host's index move: `{host, index, at, members}` (`at`:
 * ms since the epoch, when the view moved it and woke the host's parked polls; `members`: per pool,
 * `[name, [[port, state], ...]]`). Published only when something listens: bench/balancers times
 * the server's part of a join with it.
 */
export const BALANCER_INDEX_CHANNEL = 'noops:balancers:index';
const indexChannel = channel(BALANCER_INDEX_CHANNEL);

/** What a `BALANCER_INDEX_CHANNEL` message holds. */
export interface BalancerIndexTiming {
  host: string;
  index: number;
  at: number;
  members: [string, [number, string][]][];
}

/** The index of a host that drives no pool. */
export const NO_POOLS_INDEX = balancersIndex([]);

/** The longest a timer is set for (Node's limit is 2^31 - 1 ms); a later `until` is set again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Indexes remembered per host, for "does this report follow that change" (older ones are forgotten). */
const INDEX_HISTORY = 256;

interface HostIndex {
  current: DesiredBalancers;
  /** the view's count of index moves when this host's index last moved */
  seq: number;
  /** the seq at which each recent index was (last) taken */
  seen: Map<number, number>;
}

/** See the file's comment. Emits `change` after every recomputation and every reports' change. */
export class PoolView extends EventEmitter {
  private hostRows = new Map<string, HostRow>();
  /** each reporting host's candidates, and their text (to see a change) */
  private readonly byHost = new Map<string, { candidates: Candidate[]; key: string }>();
  private readonly live = new Map<string, boolean>();
  private pools: PoolRow[] = [];
  private marks: DrainMark[] = [];
  private reports = new Map<string, StoredBalancerReport>();
  /** per balancer host: its pools as desired, and its index's history */
  private readonly indexes = new Map<string, HostIndex>();
  /** each pool as last worked out (the row it was worked out from, its desired form and digest) */
  private readonly poolCache = new Map<string, { row: PoolRow; desired: DesiredBalancer; digest: string }>();
  /** the tags whose candidates changed since the last computation (only the pools selecting them are worked out again) */
  private readonly dirtyTags = new Set<string>();
  /** every pool is worked out again at the next computation (marks, pools, addresses changed) */
  private allDirty = true;
  /** polls parked on a host's index, woken when it moves */
  private readonly waiters = new Waiters();
  /** index moves of any host, counted: a seq only grows, also across a host that stops and starts driving pools */
  private moves = 0;
  /** the live hosts, each due when its liveness runs out (unless it reports first) */
  private readonly liveness = new LivenessWheel((hosts) => this.lapsed(hosts));
  /** the first live mark's `until`, and the timer that works the pools out again then */
  private nextExpiry = Number.POSITIVE_INFINITY;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private loadingHosts: Promise<void> | undefined;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private readonly listener = (host: string): void => this.refreshHost(host);

  constructor(
    private readonly source: NamingSource,
    private readonly store: BalanceStore,
    opts: PoolViewOptions = {},
  ) {
    super();
    this.setMaxListeners(0); // one per hook waiting: a batch of many hosts
    source.on('report', this.listener);
    this.timers.push(setInterval(() => void this.loadHosts(), opts.hostsRefreshMs ?? 5000).unref());
    this.timers.push(setInterval(() => void this.reload(), opts.reloadMs ?? 10_000).unref());
  }

  /** Reads the hosts, pools, marks and reports: once, before the first answer. */
  async start(): Promise<void> {
    await this.reload(); // the pools first: with none, the hosts' rows are not needed
    await this.loadHosts();
  }

  /**
   * Reads the pools, the drain marks and the reports again and works the pools out (another
   * server changed one). Calls while one runs make one more run after it.
   */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          const [pools, marks, reports] = await Promise.all([
            this.store.listBalancers(),
            this.store.listDrains(),
            this.store.listBalancerReports(),
          ]);
          const first = this.pools.length === 0 && pools.length > 0;
          this.pools = pools;
          this.marks = marks;
          // with no pool, reports were not worked out (nothing to do): now they are
          if (first) for (const host of this.source.hosts()) this.refreshCandidates(host);
          this.allDirty = true;
          this.reports = new Map(reports.map((r) => [r.report.name, r]));
          this.compute();
        } catch (err) {
          process.emitWarning(`balancers: reading the pools failed (tried again at the next change): ${(err as Error).message}`);
        }
      } while (this.reloadAgain);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Reads the balancers' reports again (another server stored one: the pools are as they were). */
  async reloadReports(): Promise<void> {
    try {
      const reports = await this.store.listBalancerReports();
      this.reports = new Map(reports.map((r) => [r.report.name, r]));
      this.emit('change');
    } catch (err) {
      process.emitWarning(`balancers: reading the reports failed (tried again at the next change): ${(err as Error).message}`);
    }
  }

  /** A report this server just stored: kept at once (the bus brings it to the others). */
  noteReport(row: StoredBalancerReport): void {
    this.reports.set(row.report.name, row);
    this.emit('change');
  }

  /** A mark this server just wrote or cleared: `marks` is the new list (the bus brings it to the others). */
  setMarks(marks: DrainMark[]): void {
    this.marks = marks;
    this.allDirty = true;
    this.compute();
  }

  /** The pools stored, as last read. */
  poolRows(): readonly PoolRow[] {
    return this.pools;
  }

  /** A pool as last read. */
  pool(name: string): PoolRow | undefined {
    return this.pools.find((p) => p.name === name);
  }

  /** The drain marks as last read (expired ones too). */
  drainMarks(): readonly DrainMark[] {
    return this.marks;
  }

  /** Whether `host`'s agent drives a pool (a Map lookup: the desired-state poll asks it of every host). */
  drives(host: string): boolean {
    return this.indexes.has(host);
  }

  /** The pools `host` drives with their index (`NO_POOLS_INDEX` and none when it drives none). */
  desired(host: string): DesiredBalancers {
    return this.indexes.get(host)?.current ?? { index: NO_POOLS_INDEX, pools: [] };
  }

  /** `host`'s index now. */
  index(host: string): number {
    return this.indexes.get(host)?.current.index ?? NO_POOLS_INDEX;
  }

  /** The seq of `host`'s index now: a report of an index whose seq is at least this one follows every change until now (−1: it drives no pool). */
  seq(host: string): number {
    return this.indexes.get(host)?.seq ?? -1;
  }

  /** The seq at which `host` first had `index` (undefined: not one of its recent indexes). */
  seqOf(host: string, index: number): number | undefined {
    return this.indexes.get(host)?.seen.get(index);
  }

  /** A pool's members as desired (none for an unknown pool). */
  desiredMembers(name: string): readonly DesiredMember[] {
    return this.poolCache.get(name)?.desired.members ?? [];
  }

  /** A pool's members with what its agent last reported of each (`noops lb show`). */
  members(name: string): BalancerMember[] {
    const report = this.reports.get(name)?.report;
    const applied = new Map(report?.members.map((m) => [m.id, m]));
    return this.desiredMembers(name).map((m) => {
      const a = applied.get(m.id);
      const member: BalancerMember = { ...m };
      // absent: a report that worked does not hold it (one that failed says nothing of it)
      if (a) member.applied = { state: a.state, connections: a.connections };
      else if (report?.ok) member.applied = { state: 'absent', connections: null };
      return member;
    });
  }

  /** A pool's last report (undefined: none yet). */
  report(name: string): StoredBalancerReport | undefined {
    return this.reports.get(name);
  }

  /** Every pool's last report. */
  allReports(): StoredBalancerReport[] {
    return [...this.reports.values()];
  }

  /**
   * The pids of `host`'s processes under `tag` (or beneath it; with `process`, of that process and
   * its replicas) as its last report gives them: what a restart stops.
   */
  runningPids(host: string, tag: string, process?: string): number[] {
    const pids: number[] = [];
    for (const p of this.source.lastReport(host)?.processes ?? [])
      if (p.pid !== null && isUnder(p.tag, tag) && (process === undefined || replicaOf(p.process).process === process)) pids.push(p.pid);
    return pids;
  }

  /** Whether `host` reported and is up now (naming's rule). */
  isLive(host: string): boolean {
    const until = this.liveUntil(host);
    return until !== null && Date.now() <= until;
  }

  /** The last moment `host` counts as up (naming's rule); null: it never reported. */
  private liveUntil(host: string): number | null {
    return this.source.lastReport(host) === undefined ? null : this.source.liveUntil(host, this.hostRows.get(host)?.lastHeartbeat ?? null);
  }

  /**
   * Resolves when `host`'s index differs from `index`, after `waitMs`, or when `signal` aborts
   * (at once if it differs already).
   */
  wait(host: string, index: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.index(host) !== index || waitMs <= 0 || signal?.aborted) return Promise.resolve();
    return this.waiters.wait(host, waitMs, signal);
  }

  /**
   * Calls `wake` at the next move of `host`'s index, unless it differs from `index` already: then
   * it answers false and parks nothing. A plain function and nothing else (no promise, timer or
   * listener): what each of 10,000 parked desired-state polls holds (the server's parkPoll). Undo
   * with `unpark`.
   */
  park(host: string, index: number, wake: () => void): boolean {
    if (this.index(host) !== index) return false;
    this.waiters.park(host, wake);
    return true;
  }

  /** Takes `wake` off `host` (nothing if it is not parked there). */
  unpark(host: string, wake: () => void): void {
    this.waiters.unpark(host, wake);
  }

  /** How many polls are parked. */
  get parked(): number {
    let n = 0;
    for (const host of this.waiters.keys()) n += this.waiters.count(host);
    return n;
  }

  /** Stops listening and answers every parked poll. */
  close(): void {
    this.source.off('report', this.listener);
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.expiryTimer);
    this.liveness.close();
    this.waiters.wakeAll();
    this.removeAllListeners();
  }

  private loadHosts(): Promise<void> {
    // No pool: nothing here depends on a host's row, and 10,000 rows are not read every few
    // seconds for nothing. The first pool stored works every host out, and that reads them.
    if (this.pools.length === 0) return Promise.resolve();
    this.loadingHosts ??= this.store
      .listHosts()
      .then((rows) => {
        this.hostRows = new Map(rows.map((r) => [r.name, r]));
        let any = false;
        for (const host of new Set([...this.byHost.keys(), ...this.source.hosts()])) any = this.refreshCandidates(host) || any;
        if (any) this.compute();
      })
      .catch((err: Error) => process.emitWarning(`balancers: reading the hosts failed (tried again in a few seconds): ${err.message}`))
      .finally(() => {
        this.loadingHosts = undefined;
      });
    return this.loadingHosts;
  }

  /** Live hosts' liveness ran out (their wheel entries came due together): worked out again once. */
  private lapsed(hosts: readonly string[]): void {
    if (this.pools.length === 0) return; // no pool: nothing depends on liveness here
    let recompute = false;
    let livenessMoved = false;
    for (const host of hosts) {
      if (this.isLive(host) === (this.live.get(host) ?? false)) {
        this.watchLiveness(host); // heard meanwhile (a heartbeat the source holds): due again later
        continue;
      }
      livenessMoved = true;
      recompute = this.refreshCandidates(host) || recompute;
    }
    if (recompute) this.compute();
    else if (livenessMoved) this.emit('change'); // a balancer host went down: a hook waiting on it hears it
  }

  /** Watches a host's liveness: due at the moment its last heartbeat gets too old (nothing while it is down). */
  private watchLiveness(host: string): boolean {
    const until = this.liveUntil(host);
    const live = until !== null && Date.now() <= until;
    this.liveness.watch(host, live ? until : undefined);
    return live;
  }

  /** A mark expired: the pools are worked out again at the first live mark's `until`. */
  private expireAt(until: number): void {
    if (until === this.nextExpiry) return;
    this.nextExpiry = until;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (!Number.isFinite(until)) return;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined;
        this.nextExpiry = Number.POSITIVE_INFINITY;
        this.allDirty = true;
        this.compute();
      },
      Math.min(Math.max(until - Date.now() + 1, 0), MAX_TIMER_MS),
    ).unref();
  }

  private refreshHost(host: string): void {
    if (this.refreshCandidates(host)) this.compute();
  }

  /** Works out a host's candidates again; true when they changed. With no pool stored, nothing is (a report costs nothing). */
  private refreshCandidates(host: string): boolean {
    if (this.pools.length === 0) {
      this.byHost.delete(host);
      return false;
    }
    const row = this.hostRows.get(host);
    if (row === undefined && this.source.lastReport(host) !== undefined && !this.loadingHosts) void this.loadHosts(); // a new host: its address
    const live = this.watchLiveness(host);
    this.live.set(host, live);
    const report = this.source.lastReport(host);
    const candidates: Candidate[] = (report?.processes ?? []).map((p) => ({
      host,
      address: processAddress(p, row), // a container's own, else the host's
      port: p.port,
      tag: p.tag,
      version: p.version,
      process: p.process,
      pid: p.pid,
      healthy: live && p.state === 'up' && (p.health === undefined || p.health === 'healthy'),
    }));
    const key = JSON.stringify(candidates);
    const before = this.byHost.get(host);
    if ((before?.key ?? '[]') === key) return false;
    for (const c of before?.candidates ?? []) this.dirtyTags.add(c.tag);
    for (const c of candidates) this.dirtyTags.add(c.tag);
    if (candidates.length === 0) this.byHost.delete(host);
    else this.byHost.set(host, { candidates, key });
    return true;
  }

  /**
   * Works out again the pools whose members may have changed (those selecting a tag whose
   * candidates changed; all of them after a change of marks, pools or addresses), then each
   * balancer host's desired pools; wakes the hosts whose index moved.
   */
  private compute(): void {
    const now = Date.now();
    const marks = liveMarks(this.marks, now);
    this.expireAt(Math.min(...marks.map((m) => Date.parse(m.until)), Number.POSITIVE_INFINITY));
    const all = this.allDirty;
    const tags = [...this.dirtyTags];
    this.allDirty = false;
    this.dirtyTags.clear();
    let candidates: Candidate[] | undefined;
    const byLbHost = new Map<string, { name: string; desired: DesiredBalancer; digest: string }[]>();
    const names = new Set<string>();
    for (const pool of this.pools) {
      names.add(pool.name);
      let held = this.poolCache.get(pool.name);
      if (all || held === undefined || held.row !== pool || tags.some((t) => selects(pool, t))) {
        candidates ??= [...this.byHost.values()].flatMap((h) => h.candidates);
        const desired = desiredPool(pool, membersOf(pool, candidates, marks));
        held = { row: pool, desired, digest: poolDigest(desired) };
        this.poolCache.set(pool.name, held);
      }
      let list = byLbHost.get(pool.host);
      if (!list) byLbHost.set(pool.host, (list = []));
      list.push({ name: pool.name, desired: held.desired, digest: held.digest });
    }
    for (const name of [...this.poolCache.keys()]) if (!names.has(name)) this.poolCache.delete(name);
    const moved: string[] = [];
    for (const [host, list] of byLbHost) {
      list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const next: DesiredBalancers = { index: indexOfDigests(list.map((p) => p.digest)), pools: list.map((p) => p.desired) };
      const held = this.indexes.get(host);
      if (held === undefined) {
        const seq = ++this.moves;
        this.indexes.set(host, { current: next, seq, seen: new Map([[next.index, seq]]) });
        moved.push(host);
      } else if (held.current.index !== next.index) {
        held.current = next;
        held.seq = ++this.moves;
        held.seen.delete(next.index); // seen again: counts from now
        held.seen.set(next.index, held.seq);
        if (held.seen.size > INDEX_HISTORY) held.seen.delete(held.seen.keys().next().value!);
        moved.push(host);
      } else held.current = next;
    }
    for (const host of [...this.indexes.keys()]) {
      if (!byLbHost.has(host)) {
        this.indexes.delete(host); // it drives no pool now: its index is NO_POOLS_INDEX
        moved.push(host);
      }
    }
    for (const host of moved) this.waiters.wake(host);
    if (indexChannel.hasSubscribers) for (const host of moved) publishIndex(host, this.desired(host));
    this.emit('change');
  }
}

/** Publishes a host's index move on BALANCER_INDEX_CHANNEL. */
function publishIndex(host: string, desired: DesiredBalancers): void {
  const timing: BalancerIndexTiming = {
    host,
    index: desired.index,
    at: Date.now(),
    members: desired.pools.map((p) => [p.name, p.members.map((m) => [m.port, m.state])]),
  };
  indexChannel.publish(timing);
}
