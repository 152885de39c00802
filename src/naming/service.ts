/**
 * Naming as the server runs it: the view of healthy endpoints (view.ts), the lookups it records
 * for who depends on whom (written in batches), the DNS server's source, and the dependency
 * graph (`deps`), declared in noops.yaml (`depends_on:`) and observed in lookups.
 */
import { type DepEdge, type DepsView, hostAddressOf, type NamingAnswer, type NamingEndpoint } from '../api/index.js';
import type { DesiredRow, HostRow, InstanceRow, NamingLookupRow } from '../store/index.js';
import { formatSelector, formatTag, isUnder, matches, parseTag, truncateTo, type Selector } from '../tree/index.js';
import type { DnsSource } from './dns.js';
import { canonicalSelector, namingSelector } from './names.js';
import { NamingView, type NamingSource, type NamingViewOptions } from './view.js';

/** Lookups are written at most this often (one transaction for all of them). */
export const LOOKUPS_FLUSH_MS = 1000;
/** Distinct callers and targets kept between two writes; more are counted in the next window. */
const MAX_PENDING_LOOKUPS = 10_000;

/** Lookups of one caller host, target and way since the last write (times in ms since the epoch). */
interface AskedCount {
  callerHost: string;
  target: string;
  via: 'http' | 'dns';
  firstAt: number;
  lastAt: number;
  count: number;
}

/** What naming reads and writes. */
export interface NamingDeps {
  reports: NamingSource & { instances(): readonly InstanceRow[] };
  store: {
    listHosts(): Promise<HostRow[]>;
    listHostsNamed(names: readonly string[]): Promise<HostRow[]>;
    listDesired(): Promise<DesiredRow[]>;
    recordNamingLookups(rows: readonly NamingLookupRow[]): Promise<void>;
    listNamingLookups(): Promise<NamingLookupRow[]>;
  };
  /** every node of the service tree */
  nodes(): Promise<Iterable<string>>;
  view?: NamingViewOptions;
}

/** A job's tag from an instance's cluster tag (the tag itself when it ends above the job). */
export function jobOf(tag: string): string {
  const job = truncateTo(parseTag(tag), 'job');
  return job ? formatTag(job) : tag;
}

/** See the file's comment. */
export class Naming {
  readonly view: NamingView;
  /** lookups counted since the last write, by caller host, target and way */
  private asked = new Map<string, AskedCount>();
  /** rows worked out but not written yet (a write failed: tried again with the next) */
  private pending = new Map<string, NamingLookupRow>();
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: NamingDeps) {
    this.view = new NamingView(
      deps.reports,
      () => deps.store.listHosts(),
      deps.view,
      (names) => deps.store.listHostsNamed(names),
    );
    this.timer = setInterval(() => void this.flush(), LOOKUPS_FLUSH_MS).unref();
  }

  /** Reads the hosts: before the first answer. */
  start(): Promise<void> {
    return this.view.start();
  }

  /** The healthy endpoints under a selector (a selector or a tag, as typed). */
  answer(selector: string | Selector, visible?: (tag: string) => boolean): NamingAnswer {
    return this.view.answer(typeof selector === 'string' ? namingSelector(selector) : selector, visible);
  }

  /**
   * Records that `callerHost` asked for `selector` (a selector, or its canonical text). Counted
   * in memory (a map lookup: one per question asked, however many ask); the caller's jobs, those
   * its host runs, are worked out when the batch is written: a host that runs none is recorded
   * without one.
   */
  looked(callerHost: string, selector: Selector | string, via: 'http' | 'dns'): void {
    const target = typeof selector === 'string' ? selector : formatSelector(selector);
    const key = `${callerHost}\u0000${target}\u0000${via}`;
    const at = Date.now();
    const seen = this.asked.get(key);
    if (seen) {
      seen.count += 1;
      seen.lastAt = at;
    } else if (this.asked.size < MAX_PENDING_LOOKUPS) {
      this.asked.set(key, { callerHost, target, via, firstAt: at, lastAt: at, count: 1 });
    }
  }

  /** An HTTP lookup: the caller is the host whose agent joined from `ip`, else the token's name. */
  lookedUpOverHttp(ip: string, tokenName: string, target: string): void {
    this.looked(this.view.hostAt(ip) ?? `token:${tokenName}`, target, 'http');
  }

  /** The lookups counted since the last write, each with its caller's jobs (one pass over what runs). */
  private takeAsked(): NamingLookupRow[] {
    const asked = this.asked;
    this.asked = new Map();
    if (asked.size === 0) return [];
    const jobsOf = new Map<string, Set<string>>();
    const jobByTag = new Map<string, string>();
    for (const r of this.deps.reports.instances()) {
      let job = jobByTag.get(r.tag);
      if (job === undefined) jobByTag.set(r.tag, (job = jobOf(r.tag)));
      let jobs = jobsOf.get(r.host);
      if (jobs === undefined) jobsOf.set(r.host, (jobs = new Set()));
      jobs.add(job);
    }
    const rows: NamingLookupRow[] = [];
    for (const a of asked.values()) {
      const firstAt = new Date(a.firstAt).toISOString();
      const lastAt = new Date(a.lastAt).toISOString();
      const jobs = jobsOf.get(a.callerHost);
      for (const callerTag of jobs && jobs.size > 0 ? jobs : ['']) {
        rows.push({ callerHost: a.callerHost, callerTag, target: a.target, via: a.via, firstAt, lastAt, count: a.count });
      }
    }
    return rows;
  }

  /** Writes the lookups recorded since the last write; a failed write keeps them for the next. */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      for (const r of this.takeAsked()) {
        const key = `${r.callerHost}\u0000${r.callerTag}\u0000${r.target}\u0000${r.via}`;
        const earlier = this.pending.get(key);
        if (earlier) {
          earlier.count += r.count;
          earlier.lastAt = r.lastAt;
        } else if (this.pending.size < MAX_PENDING_LOOKUPS) this.pending.set(key, r);
      }
      if (this.pending.size === 0) return;
      const rows = [...this.pending.values()];
      try {
        await this.deps.store.recordNamingLookups(rows);
        this.pending = new Map();
      } catch (err) {
        process.emitWarning(`naming: writing ${rows.length} lookup(s) failed (tried again): ${(err as Error).message}`);
      }
    });
    return this.writing;
  }

  /** What the DNS server reads: unscoped (DNS carries no token; bind it where only your hosts reach). */
  dnsSource(): DnsSource {
    return {
      endpoints: (selector, process) => this.view.answer(selector, undefined, process).endpoints,
      nodes: () => this.deps.nodes(),
      hostAddress: (host) => {
        const row = this.view.host(host) ?? this.view.hostCaseless(host);
        return row && hostAddressOf(row);
      },
      looked: (address, selector) => this.looked(this.view.hostAt(address) ?? address, selector, 'dns'),
    };
  }

  /**
   * Who depends on whom around a selector: `uses`, the edges from the jobs it selects;
   * `usedBy`, the edges to a selector that selects any node under it. `visible`: the caller's
   * scope; `uses` shows only its own jobs' edges, `usedBy` every caller (who uses mine).
   */
  async depsOf(selectorText: string, visible: (tag: string) => boolean = () => true): Promise<DepsView> {
    const selector = namingSelector(selectorText);
    const edges = await this.edges();
    const nodes = [...(await this.deps.nodes())].filter((t) => matches(selector, t));
    // a caller is a job: it is selected when it matches, or a node the selector picks is beneath it
    const uses = edges.filter((e) => (matches(selector, e.from) || nodes.some((t) => isUnder(t, e.from))) && visible(e.from));
    const usedBy = edges.filter((e) => {
      const to = namingSelector(e.to);
      return covers(to, selector) || nodes.some((t) => matches(to, t)) || endpointsOverlap(this.view.answer(to).endpoints, selector);
    });
    return { selector: formatSelector(selector), uses, usedBy };
  }

  /** Every edge: declared by the deployed releases, observed in lookups; one per caller and target. */
  private async edges(): Promise<DepEdge[]> {
    const [desired, lookups] = await Promise.all([this.deps.store.listDesired(), this.deps.store.listNamingLookups()]);
    const byKey = new Map<string, DepEdge>();
    const edge = (from: string, to: string): DepEdge => {
      const key = `${from}\u0000${to}`;
      let e = byKey.get(key);
      if (!e) byKey.set(key, (e = { from, to, declared: false, observed: false, lastSeen: null }));
      return e;
    };
    for (const row of desired) {
      const dependsOn = (row.manifest as { dependsOn?: unknown }).dependsOn;
      if (!Array.isArray(dependsOn)) continue;
      for (const to of dependsOn) {
        const target = typeof to === 'string' ? safeCanonical(to) : undefined;
        if (target === undefined) continue; // not a selector (a package built by hand): no edge, rather than no answer
        edge(jobOf(row.tag), target).declared = true;
      }
    }
    for (const l of lookups) {
      if (l.callerTag === '') continue; // a person's lookup, or a host that ran nothing: no service depends
      const e = edge(l.callerTag, l.target);
      e.observed = true;
      if (e.lastSeen === null || e.lastSeen < l.lastAt) e.lastSeen = l.lastAt;
    }
    return [...byKey.values()].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  }

  /** Writes pending lookups and stops. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.view.close();
    await this.flush();
  }
}

function safeCanonical(text: string): string | undefined {
  try {
    return canonicalSelector(text);
  } catch {
    return undefined;
  }
}

/** Whether `wide` has only pairs `narrow` has too: all `narrow` selects, `wide` does (even before any node exists). */
function covers(wide: Selector, narrow: Selector): boolean {
  return wide.pairs.every((p) => narrow.pairs.some((q) => q.key === p.key && q.value === p.value));
}

function endpointsOverlap(endpoints: readonly NamingEndpoint[], selector: Selector): boolean {
  return endpoints.some((e) => matches(selector, e.tag));
}
