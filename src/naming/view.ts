/**
 * Who answers for a name: the healthy endpoints under a selector, from the one read model of what
 * runs (monitor/'s `ActualState`), and blocking queries that wake when their answer changes.
 *
 * Each host's endpoints are worked out again when it reports (its processes, their health) and
 * when a sweep finds its liveness changed (a host that stops reporting sends nothing); only a
 * change to some host's endpoints wakes the parked queries, and each distinct question is
 * answered once per change however many wait on it. An answer's `index` is a hash of its
 * endpoints: it changes exactly when they do, and is the same on every server.
 */
import { createHash } from 'node:crypto';
import { type AgentReport, type NamingAnswer, type NamingEndpoint, plainAddress, processAddress } from '../api/index.js';
import type { HostRow } from '../store/index.js';
import { formatSelector, matches, type Selector } from '../tree/index.js';

/** The part of the read model (monitor/'s `ActualState`) naming reads. */
export interface NamingSource {
  hosts(): string[];
  lastReport(host: string): AgentReport | undefined;
  lastSeen(host: string, stored: string | null): string | null;
  isUp(lastHeartbeat: string | null, now?: number): boolean;
  on(event: 'report', listener: (host: string) => void): unknown;
  off(event: 'report', listener: (host: string) => void): unknown;
}

/** How the view is tuned; the defaults suit a server. */
export interface NamingViewOptions {
  /** how often hosts' liveness is checked (a host that stops reporting drops out within this plus down-after) */
  sweepMs?: number;
  /** how often the hosts' rows (addresses, other servers' heartbeats) are read again */
  hostsRefreshMs?: number;
}

/** A parked blocking query. */
interface Waiter {
  key: string;
  answer: () => NamingAnswer;
  index: number;
  resolve: (a: NamingAnswer) => void;
}

/** An address as an agent was seen from, without the IPv4-mapped prefix (one definition, in api/addresses.ts). */
export { plainAddress };

/** The index of a list of endpoints: 48 bits of their hash, never 0. */
export function indexOf(endpoints: readonly NamingEndpoint[]): number {
  const digest = createHash('sha256').update(JSON.stringify(endpoints)).digest();
  return digest.readUIntBE(0, 6) || 1;
}

function compareEndpoints(a: NamingEndpoint, b: NamingEndpoint): number {
  return a.tag < b.tag
    ? -1
    : a.tag > b.tag
      ? 1
      : a.process < b.process
        ? -1
        : a.process > b.process
          ? 1
          : a.host < b.host
            ? -1
            : a.host > b.host
              ? 1
              : 0;
}

/** See the file's comment. */
export class NamingView {
  /** each host's healthy endpoints, and their text (to see a change) */
  private readonly byHost = new Map<string, { endpoints: NamingEndpoint[]; key: string }>();
  private all: NamingEndpoint[] | undefined;
  private hostRows = new Map<string, HostRow>();
  /** whether each host was live when its endpoints were last worked out */
  private readonly live = new Map<string, boolean>();
  private readonly waiters = new Set<Waiter>();
  private readonly listener = (host: string): void => {
    this.refreshHost(host);
  };
  private readonly timers: NodeJS.Timeout[] = [];
  private loading: Promise<void> | undefined;
  /** raised at every change of any host's endpoints */
  generation = 0;

  constructor(
    private readonly source: NamingSource,
    private readonly listHosts: () => Promise<HostRow[]>,
    opts: NamingViewOptions = {},
  ) {
    source.on('report', this.listener);
    this.timers.push(setInterval(() => this.sweep(), opts.sweepMs ?? 1000).unref());
    this.timers.push(setInterval(() => void this.loadHosts(), opts.hostsRefreshMs ?? 5000).unref());
  }

  /** Reads the hosts' rows and works out every host's endpoints: once, before the first answer. */
  async start(): Promise<void> {
    await this.loadHosts();
  }

  /** The host's row as last read (its address), if known. */
  host(name: string): HostRow | undefined {
    return this.hostRows.get(name);
  }

  /** The host's row by its name in any case (DNS names are not case-sensitive). */
  hostCaseless(name: string): HostRow | undefined {
    const lower = name.toLowerCase();
    for (const row of this.hostRows.values()) if (row.name.toLowerCase() === lower) return row;
    return undefined;
  }

  /** The host whose agent joined from `address`, if one did. */
  hostAt(address: string): string | undefined {
    const plain = plainAddress(address);
    for (const row of this.hostRows.values()) if (plainAddress(row.address) === plain) return row.name;
    return undefined;
  }

  /** The healthy endpoints matching `selector` (and `visible`, the caller's scope), with their index. */
  answer(selector: Selector, visible: (tag: string) => boolean = () => true, process?: string): NamingAnswer {
    this.all ??= [...this.byHost.values()].flatMap((h) => h.endpoints).sort(compareEndpoints);
    const matched = new Map<string, boolean>();
    const endpoints = this.all.filter((e) => {
      if (process !== undefined && e.process !== process) return false;
      let ok = matched.get(e.tag);
      if (ok === undefined) matched.set(e.tag, (ok = matches(selector, e.tag) && visible(e.tag)));
      return ok;
    });
    return { index: indexOf(endpoints), endpoints };
  }

  /**
   * Waits until the answer's index differs from `index`, at most `waitMs`; answers the current
   * answer then (the same index when the wait ran out). `signal`: the caller left.
   */
  wait(
    selector: Selector,
    visible: (tag: string) => boolean,
    scopeKey: string,
    index: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<NamingAnswer> {
    const answer = () => this.answer(selector, visible);
    const now = answer();
    if (now.index !== index || waitMs <= 0 || signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (a: NamingAnswer) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        resolve(a);
      };
      const waiter: Waiter = { key: `${scopeKey}\u0000${formatSelector(selector)}`, answer, index, resolve: done };
      const onAbort = () => done(answer());
      const timer = setTimeout(() => done(answer()), waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** How many blocking queries are parked. */
  get parked(): number {
    return this.waiters.size;
  }

  /** Stops listening and answers every parked query as it stands. */
  close(): void {
    this.source.off('report', this.listener);
    for (const t of this.timers) clearInterval(t);
    for (const w of [...this.waiters]) w.resolve(w.answer());
  }

  private loadHosts(): Promise<void> {
    this.loading ??= this.listHosts()
      .then((rows) => {
        this.hostRows = new Map(rows.map((r) => [r.name, r]));
        let any = false;
        for (const host of new Set([...this.byHost.keys(), ...this.source.hosts()])) any = this.refreshHost(host, false) || any;
        if (any) this.changed(); // parked questions are answered again only when an endpoint changed
      })
      .catch((err: Error) => process.emitWarning(`naming: reading the hosts failed (tried again in a few seconds): ${err.message}`))
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** A host's liveness may have changed without a report: checked every sweep (only a changed one is worked out again). */
  private sweep(): void {
    let any = false;
    for (const host of new Set([...this.byHost.keys(), ...this.source.hosts()])) {
      if (this.isLive(host) !== (this.live.get(host) ?? false)) any = this.refreshHost(host, false) || any;
    }
    if (any) this.changed();
  }

  /** Whether the host reported and is up now. */
  private isLive(host: string): boolean {
    return (
      this.source.lastReport(host) !== undefined &&
      this.source.isUp(this.source.lastSeen(host, this.hostRows.get(host)?.lastHeartbeat ?? null))
    );
  }

  /** Works out a host's endpoints again; true (and, when `wake`, wakes the waiters) when they changed. */
  private refreshHost(host: string, wake = true): boolean {
    const row = this.hostRows.get(host);
    if (row === undefined && this.source.lastReport(host) !== undefined && !this.loading) void this.loadHosts(); // a new host: its address
    const live = this.isLive(host);
    if (live) this.live.set(host, true);
    else this.live.delete(host);
    const endpoints = this.endpointsOf(host, row);
    const key = JSON.stringify(endpoints);
    const prev = this.byHost.get(host);
    if ((prev?.key ?? '[]') === key) return false;
    if (endpoints.length === 0) this.byHost.delete(host);
    else this.byHost.set(host, { endpoints, key });
    this.all = undefined;
    if (wake) this.changed();
    return true;
  }

  private endpointsOf(host: string, row: HostRow | undefined): NamingEndpoint[] {
    const report = this.source.lastReport(host);
    if (!report || !this.source.isUp(this.source.lastSeen(host, row?.lastHeartbeat ?? null))) return [];
    return (
      report.processes
        .filter((p) => p.state === 'up' && (p.health === undefined || p.health === 'healthy'))
        // a container's own address, else the host's (its `address` label, else where its agent connects from)
        .map((p) => ({ host, address: processAddress(p, row), port: p.port, process: p.process, tag: p.tag, version: p.version }))
        .sort(compareEndpoints)
    );
  }

  /** Something changed: each parked question is answered once, and its waiters woken if its index moved. */
  private changed(): void {
    this.generation += 1;
    if (this.waiters.size === 0) return;
    const answers = new Map<string, NamingAnswer>();
    for (const w of [...this.waiters]) {
      let a = answers.get(w.key);
      if (a === undefined) answers.set(w.key, (a = w.answer()));
      if (a.index !== w.index) w.resolve(a);
    }
  }
}
