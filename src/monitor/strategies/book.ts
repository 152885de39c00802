/**
 * `StrategyBook`: the strategies, nodata rules and maintenance windows in memory, resolved per
 * series for the judge loop (which asks once per series and keeps the answer until the book's
 * `generation` changes: see `candidatesOf`).
 */
import { CHANNELS, type ChangeBus } from '../../bus/index.js';
import type { MaintenanceRow, Store } from '../../store/index.js';
import type { JudgePoint, JudgeStrategy } from '../judge/types.js';
import { windowHolds } from './check.js';
import {
  bind,
  bindNodata,
  forHost,
  forInstance,
  hostPaths,
  nodataFor,
  tagObject,
  windowCovers,
  type BoundStrategy,
  type Candidate,
  type NodataRule,
} from './resolve.js';

/**
 * How old the book's view of which hosts are beneath which nodes may grow before a point asks
 * for a fresh read of it (in the background: the clusters, and the instances each host runs).
 * Clusters' hosts and the instances a host runs change rarely and are also forgotten at once on
 * the bus (`tree`, `strategies`); this bounds how late a change another path missed (an
 * instance started on a host outside its cluster) is seen. Strategies, nodata rules and
 * maintenance windows are read again only when the bus says they changed.
 */
export const HOSTS_REFRESH_MS = 10_000;

/** After a failed read, how long until a point asks for another. */
const RETRY_MS = 1_000;

/** Series kept in the cache before it is emptied (a bound on memory; refilled as points come). */
export const MAX_CACHED_SERIES = 2_000_000;

/** What the book reads. `instances`: what runs on which host (ActualState's rows); the store's rows when not given. */
export interface StrategyBookDeps {
  store: Pick<Store, 'listStrategies' | 'listNodata' | 'listMaintenance' | 'listClusters' | 'listInstances'>;
  bus?: ChangeBus;
  instances?: () => Iterable<{ host: string; tag: string }>;
  /** milliseconds; Date.now by default */
  clock?: () => number;
}

/** One read of everything, resolved for lookups. */
interface Snapshot {
  byMetric: Map<string, BoundStrategy[]>;
  nodata: NodataRule[];
  maintenance: MaintenanceRow[];
  /** the nodes each host is directly under (its clusters, its instances' tags) */
  leaves: Map<string, string[]>;
  /** what was read, to tell what a refresh changed: the strategies, the hosts' nodes */
  strategiesPrint: string;
  leavesPrint: string;
}

/**
 * A series' candidates as `candidatesOf` answers them: `holds` true when the answer stands until
 * the book's `generation` changes; false when it was for this point's time alone (a run window).
 */
export interface CandidateAnswer {
  strategies: readonly JudgeStrategy[];
  holds: boolean;
}

/** A series' cached candidates; `plain` when none has a run window (the answer needs no clock). */
interface Cached {
  candidates: Candidate[];
  plain: CandidateAnswer | undefined;
}

const NOT_YET: CandidateAnswer = Object.freeze({ strategies: Object.freeze([]) as readonly JudgeStrategy[], holds: false });
const NONE: CandidateAnswer = Object.freeze({ strategies: Object.freeze([]) as readonly JudgeStrategy[], holds: true });

/**
 * The strategies the judge checks for each point, the maintenance windows, the nodata rules.
 * `load()` once before use (until then it answers nothing); after that every change published
 * on the bus (`strategies`, `tree`) makes it read the store again in the background, and answers
 * keep coming from the previous read until the new one is in.
 *
 * @example
 *   const book = new StrategyBook({ store, bus, instances: () => actual.instances() });
 *   await book.load();
 *   judge.push(point, now, book.forPoint(point, new Date()));
 *   // or, per series: keep `book.candidatesOf(point, now)` while `holds` and `book.generation()` is unchanged
 */
export class StrategyBook {
  private snapshot: Snapshot | undefined;
  /** metric -> sorted tags -> candidates (instances' series) */
  private readonly instanceCache = new Map<string, Map<string, Cached>>();
  /** metric -> endpoint -> candidates (hosts' series) */
  private readonly hostCache = new Map<string, Map<string, Cached>>();
  private cachedSeries = 0;
  private readonly pathsOf = new Map<string, Array<Set<string>>>();
  /** the node of every strategy id read since the book was made (an event's strategy may be gone since) */
  private readonly nodes = new Map<string, string>();
  /** bumped whenever an answer of `candidatesOf` may have changed */
  private gen = 0;
  private loadedAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  /** a change came while reading: read once more after */
  private again = false;
  /** what the next read reads: everything (a change on the bus), or the hosts' nodes alone (the refresh) */
  private whole = true;
  private readonly stops: Array<() => void> = [];
  private readonly clock: () => number;

  constructor(private readonly deps: StrategyBookDeps) {
    this.clock = deps.clock ?? Date.now;
    const heard = { change: () => this.forget(), resync: () => this.forget() };
    if (deps.bus) {
      this.stops.push(deps.bus.subscribe(CHANNELS.strategies, heard));
      this.stops.push(deps.bus.subscribe(CHANNELS.tree, heard));
    }
  }

  /** Reads everything now (the first time, and whenever the caller must see a change at once). */
  async load(): Promise<void> {
    this.again = true;
    this.whole = true;
    await this.ready();
  }

  /** Settles when no read is pending (a read that fails rejects here, and is retried on the next point). */
  async ready(): Promise<void> {
    while (this.again || this.reading) {
      if (!this.reading) this.startRead();
      await this.reading;
    }
  }

  /** Forgets what was read (a change was published): the next read replaces it, in the background. */
  forget(): void {
    this.whole = true;
    this.refresh();
  }

  /**
   * Changes when an answer `candidatesOf` gave may no longer hold (strategies or the hosts' nodes
   * changed); also asks for a fresh read of the hosts' nodes when they are old.
   */
  generation(): number {
    this.current();
    return this.gen;
  }

  /** The node a strategy was set at (a canonical tag), for any strategy read since the book was made. */
  nodeOf(strategyId: string): string | undefined {
    return this.nodes.get(strategyId);
  }

  /** Stops listening to the bus. */
  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /**
   * The strategies the judge checks for this point, by id: those of its metric that apply to its
   * series (tag-bound for an instance's, bound to the endpoint for a host's), whose run window
   * holds `now` (the server's local time).
   */
  forPoint(point: JudgePoint, now: Date): JudgeStrategy[] {
    return this.candidatesOf(point, now).strategies as JudgeStrategy[];
  }

  /**
   * `forPoint`, and whether the answer holds for every later point of the series until
   * `generation()` changes (`holds`: no run window among them). The arrays of answers that hold
   * are the book's own: the same array for every series of the same metric and tags (an
   * instance's) or metric and endpoint (a host's), never to be changed by the caller.
   */
  candidatesOf(point: JudgePoint, now: Date): CandidateAnswer {
    const snap = this.current();
    if (!snap) return NOT_YET;
    const ofMetric = snap.byMetric.get(point.metric);
    if (ofMetric === undefined) return NONE;
    // An instance's candidates depend on its tags alone, a host's on its endpoint alone. Sorted
    // tags hold `cop` first or after a ",". Nested maps: no key string built per point.
    const instance = point.tags.startsWith('cop=') || point.tags.includes(',cop=');
    const byMetric = instance ? this.instanceCache : this.hostCache;
    let bySeries = byMetric.get(point.metric);
    if (bySeries === undefined) byMetric.set(point.metric, (bySeries = new Map()));
    const key = instance ? point.tags : point.endpoint;
    let cached = bySeries.get(key);
    if (cached === undefined) {
      const candidates = instance
        ? forInstance(ofMetric, tagObject(point.tags))
        : forHost(ofMetric, point.endpoint, this.paths(snap, point.endpoint));
      const plain = candidates.every((c) => c.window === undefined);
      cached = { candidates, plain: plain ? { strategies: candidates.map((c) => c.strategy), holds: true } : undefined };
      if (++this.cachedSeries > MAX_CACHED_SERIES) this.clearCache();
      bySeries.set(key, cached);
    }
    if (cached.plain) return cached.plain;
    return {
      strategies: cached.candidates.filter((c) => c.window === undefined || windowHolds(c.window, now)).map((c) => c.strategy),
      holds: false,
    };
  }

  /** The maintenance window that covers a series at `now` (the one that ends last), if any. */
  maintenance(endpoint: string, tags: string, now: Date): { until: string; reason: string } | undefined {
    const snap = this.current();
    if (!snap) return undefined;
    const at = now.toISOString();
    const tagsOf = tagObject(tags);
    let found: MaintenanceRow | undefined;
    for (const w of snap.maintenance) {
      if (w.until <= at || (found && found.until >= w.until)) continue;
      if (windowCovers(w, endpoint, tagsOf, () => this.paths(snap, endpoint))) found = w;
    }
    return found && { until: found.until, reason: found.reason };
  }

  /** Every nodata rule, by id. */
  nodataRules(): NodataRule[] {
    return this.current()?.nodata ?? [];
  }

  /** The nodata rule of a series (the one at the lowest node of those that match), if any. */
  nodataFor(series: { endpoint: string; metric: string; tags: string }): NodataRule | undefined {
    const snap = this.current();
    if (!snap) return undefined;
    return nodataFor(snap.nodata, { ...series, tags: tagObject(series.tags) }, () => this.paths(snap, series.endpoint));
  }

  /** The snapshot to answer from; asks for a fresh read of the hosts' nodes when they are old. */
  private current(): Snapshot | undefined {
    if (this.clock() - this.loadedAt > HOSTS_REFRESH_MS && !this.reading) this.refresh();
    return this.snapshot;
  }

  private refresh(): void {
    this.again = true;
    if (!this.reading) this.startRead().catch((err: Error) => process.emitWarning(`strategies: ${err.message}`));
  }

  /** Empties the cache (a bound on memory: the answers still hold, nothing to tell). */
  private clearCache(): void {
    this.instanceCache.clear();
    this.hostCache.clear();
    this.cachedSeries = 0;
  }

  /** The hosts' nodes changed: hosts' answers go, instances' stay (they depend on their tags alone). */
  private clearHosts(): void {
    for (const m of this.hostCache.values()) this.cachedSeries -= m.size;
    this.hostCache.clear();
    this.pathsOf.clear();
    this.gen++;
  }

  private paths(snap: Snapshot, host: string): Array<Set<string>> {
    let paths = this.pathsOf.get(host);
    if (paths === undefined) {
      paths = hostPaths(snap.leaves.get(host) ?? []);
      this.pathsOf.set(host, paths);
    }
    return paths;
  }

  private startRead(): Promise<void> {
    this.again = false;
    const whole = this.whole || this.snapshot === undefined;
    this.whole = false;
    const reading = this.read(whole).finally(() => {
      if (this.reading === reading) this.reading = undefined;
      // A change heard while reading may not be in what was read: read once more.
      if (this.again && !this.reading) this.startRead().catch((err: Error) => process.emitWarning(`strategies: ${err.message}`));
    });
    this.reading = reading;
    return reading;
  }

  /** Reads the store: everything (`whole`), or only what puts hosts beneath nodes (the refresh). */
  private async read(whole: boolean): Promise<void> {
    const { store } = this.deps;
    try {
      const [strategies, nodata, maintenance, clusters, stored] = await Promise.all([
        whole ? store.listStrategies() : undefined,
        whole ? store.listNodata() : undefined,
        whole ? store.listMaintenance({ endsAfter: new Date(this.clock()).toISOString() }) : undefined,
        store.listClusters(),
        this.deps.instances ? Promise.resolve(undefined) : store.listInstances(),
      ]);
      const leaves = new Map<string, Set<string>>();
      const under = (host: string, tag: string): void => {
        let set = leaves.get(host);
        if (set === undefined) leaves.set(host, (set = new Set()));
        set.add(tag);
      };
      for (const c of clusters) for (const h of c.hosts) under(h, c.tag);
      for (const i of this.deps.instances?.() ?? stored ?? []) under(i.host, i.tag);
      const sortedLeaves = new Map([...leaves].map(([h, s]) => [h, [...s].sort()]));
      const leavesPrint = JSON.stringify([...sortedLeaves].sort());
      this.loadedAt = this.clock();
      const before = this.snapshot;
      const strategiesPrint = strategies === undefined ? (before?.strategiesPrint ?? '') : JSON.stringify(strategies);
      let byMetric = before?.byMetric;
      if (byMetric === undefined || strategiesPrint !== before?.strategiesPrint) {
        byMetric = new Map<string, BoundStrategy[]>();
        for (const row of strategies ?? []) {
          const list = byMetric.get(row.metric) ?? [];
          list.push(bind(row));
          byMetric.set(row.metric, list);
          this.nodes.set(String(row.id), row.node);
        }
      }
      this.snapshot = {
        byMetric,
        nodata: nodata === undefined ? (before?.nodata ?? []) : nodata.map(bindNodata),
        maintenance: maintenance ?? before?.maintenance ?? [],
        leaves: sortedLeaves,
        strategiesPrint,
        leavesPrint,
      };
      if (before === undefined || before.strategiesPrint !== strategiesPrint) {
        // every answer may change
        this.clearCache();
        this.pathsOf.clear();
        this.gen++;
      } else if (before.leavesPrint !== leavesPrint) this.clearHosts();
    } catch (err) {
      // Keep answering from the last read; a point after RETRY_MS asks again (everything, if this was).
      this.loadedAt = this.clock() - HOSTS_REFRESH_MS + RETRY_MS;
      if (whole) this.whole = true;
      throw err;
    }
  }
}
