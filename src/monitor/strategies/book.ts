/**
 * `StrategyBook`: the strategies, nodata rules and maintenance windows in memory, resolved per
 * series for the judge loop (which asks for every point, so the answer is cached per series).
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
  isInstanceSeries,
  nodataFor,
  tagObject,
  windowCovers,
  type BoundStrategy,
  type Candidate,
  type NodataRule,
} from './resolve.js';

/**
 * How old the book's view of which hosts are beneath which nodes may grow before a point asks
 * for a fresh read (in the background). Clusters' hosts and the instances a host runs change
 * rarely and are also forgotten at once on the bus (`tree`, `strategies`); this bounds how late
 * a change another path missed (an instance started on a host outside its cluster) is seen.
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
  /** what was read, to tell whether a refresh changed anything */
  fingerprint: string;
}

/** A series' cached candidates; `plain` when none has a run window (the answer needs no clock). */
interface Cached {
  candidates: Candidate[];
  plain: JudgeStrategy[] | undefined;
}

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
 */
export class StrategyBook {
  private snapshot: Snapshot | undefined;
  private readonly cache = new Map<string, Cached>();
  private readonly pathsOf = new Map<string, Array<Set<string>>>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  /** a change came while reading: read once more after */
  private again = false;
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
    this.again = true;
    if (!this.reading) this.startRead().catch((err: Error) => process.emitWarning(`strategies: ${err.message}`));
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
    const snap = this.current();
    if (!snap) return [];
    const ofMetric = snap.byMetric.get(point.metric);
    if (ofMetric === undefined) return [];
    const tags = tagObject(point.tags);
    const instance = isInstanceSeries(tags);
    // An instance's candidates depend on its tags alone, a host's on its endpoint alone.
    const key = instance ? `i\u0000${point.metric}\u0000${point.tags}` : `h\u0000${point.metric}\u0000${point.endpoint}`;
    let cached = this.cache.get(key);
    if (cached === undefined) {
      const candidates = instance ? forInstance(ofMetric, tags) : forHost(ofMetric, point.endpoint, this.paths(snap, point.endpoint));
      cached = { candidates, plain: candidates.every((c) => c.window === undefined) ? candidates.map((c) => c.strategy) : undefined };
      if (this.cache.size >= MAX_CACHED_SERIES) this.cache.clear();
      this.cache.set(key, cached);
    }
    if (cached.plain) return cached.plain;
    return cached.candidates.filter((c) => c.window === undefined || windowHolds(c.window, now)).map((c) => c.strategy);
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

  /** The snapshot to answer from; asks for a fresh read when the hosts' view is old. */
  private current(): Snapshot | undefined {
    if (this.clock() - this.loadedAt > HOSTS_REFRESH_MS && !this.reading) this.forget();
    return this.snapshot;
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
    const reading = this.read().finally(() => {
      if (this.reading === reading) this.reading = undefined;
      // A change heard while reading may not be in what was read: read once more.
      if (this.again && !this.reading) this.startRead().catch((err: Error) => process.emitWarning(`strategies: ${err.message}`));
    });
    this.reading = reading;
    return reading;
  }

  private async read(): Promise<void> {
    const { store } = this.deps;
    try {
      const [strategies, nodata, maintenance, clusters, stored] = await Promise.all([
        store.listStrategies(),
        store.listNodata(),
        store.listMaintenance({ endsAfter: new Date(this.clock()).toISOString() }),
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
      const fingerprint = JSON.stringify([strategies, nodata, maintenance, [...sortedLeaves].sort()]);
      this.loadedAt = this.clock();
      if (this.snapshot?.fingerprint === fingerprint) return;
      const byMetric = new Map<string, BoundStrategy[]>();
      for (const row of strategies) {
        const list = byMetric.get(row.metric) ?? [];
        list.push(bind(row));
        byMetric.set(row.metric, list);
      }
      this.snapshot = { byMetric, nodata: nodata.map(bindNodata), maintenance, leaves: sortedLeaves, fingerprint };
      this.cache.clear();
      this.pathsOf.clear();
    } catch (err) {
      // Keep answering from the last read; a point after RETRY_MS asks again.
      this.loadedAt = this.clock() - HOSTS_REFRESH_MS + RETRY_MS;
      throw err;
    }
  }
}
