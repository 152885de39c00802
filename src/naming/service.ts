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

/** What naming reads and writes. */
export interface NamingDeps {
  reports: NamingSource & { instances(): readonly InstanceRow[] };
  store: {
    listHosts(): Promise<HostRow[]>;
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
  private pending = new Map<string, NamingLookupRow>();
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: NamingDeps) {
    this.view = new NamingView(deps.reports, () => deps.store.listHosts(), deps.view);
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
   * Records that `callerHost` asked for `selector` (batched). The caller's jobs are those its
   * host runs now: a host that runs none is recorded without one.
   */
  looked(callerHost: string, selector: Selector, via: 'http' | 'dns'): void {
    const target = formatSelector(selector);
    const tags = new Set(
      this.deps.reports
        .instances()
        .filter((r) => r.host === callerHost)
        .map((r) => jobOf(r.tag)),
    );
    const at = new Date().toISOString();
    for (const callerTag of tags.size > 0 ? tags : ['']) {
      const key = `${callerHost}\u0000${callerTag}\u0000${target}\u0000${via}`;
      const seen = this.pending.get(key);
      if (seen) {
        seen.count += 1;
        seen.lastAt = at;
      } else if (this.pending.size < MAX_PENDING_LOOKUPS) {
        this.pending.set(key, { callerHost, callerTag, target, via, firstAt: at, lastAt: at, count: 1 });
      }
    }
  }

  /** Writes the lookups recorded since the last write; a failed write keeps them for the next. */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.pending.size === 0) return;
      const rows = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.deps.store.recordNamingLookups(rows);
      } catch (err) {
        process.emitWarning(`naming: writing ${rows.length} lookup(s) failed (tried again): ${(err as Error).message}`);
        for (const r of rows) {
          const key = `${r.callerHost}\u0000${r.callerTag}\u0000${r.target}\u0000${r.via}`;
          const later = this.pending.get(key);
          if (later) {
            later.count += r.count;
            later.firstAt = r.firstAt;
          } else if (this.pending.size < MAX_PENDING_LOOKUPS) this.pending.set(key, r);
        }
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
