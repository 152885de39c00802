/**
 * The one read model of actual state: what runs where, and whether each host is up, as the
 * agents report it. In memory, with the store behind it: loaded from the store when the server
 * starts, updated by every report at once, written back in batches (`StoreWriter`). Every route
 * and the rollout controller read it: `ps`, the tree's health, a node's page, metrics, events,
 * crons, and each host's last report.
 *
 * Given the change bus (several servers on one PostgreSQL), it is one view of the fleet: a
 * report that changed what the others act on is stored and announced, and the reports other
 * servers stored are taken in as they are announced (`shared-reports.ts`).
 */
import { EventEmitter } from 'node:events';
// plain JSON values compared (twice node's isDeepStrictEqual's speed, at every report)
import sameJson from 'fast-deep-equal';
import type { AgentReport, CronView, EventView } from '../api/index.js';
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { type InstanceRow, laterReport, type Store } from '../store/index.js';
import { compareInstanceRows, instanceRows } from './instances.js';
import { applyStored, hostPayloads, hostsOfPayload, ReportReader, sharedKey, sharedReport } from './shared-reports.js';
import { StoreWriter, type WriteFailures } from './store-writer.js';

/** Events kept in memory per host: the last incidents of its watches, until monitoring stores them. */
export const EVENTS_PER_HOST = 500;

/** What the model tells its listeners. */
export interface ActualStateEvents {
  /** a host reported (the rollout controller steps on it) */
  report: [host: string, report: AgentReport];
}

/**
 * The host's last report, when it came, and what other servers must see change as a string. Its
 * processes and failures are compared as they are (a copy as JSON was 3.4 MB at 10,000 hosts).
 */
interface LastReport {
  report: AgentReport;
  at: number;
  /** trust and runtimes (only with the bus: what else other servers must see change) */
  sharedKey: string;
  /** heard by this server (not read from the store, as another server stored it) */
  heardHere: boolean;
}

/** The part of the store the read model uses. */
export type ActualStateStore = Pick<Store, 'listInstances' | 'touchHosts' | 'replaceInstancesMany' | 'putHostReports' | 'listHostReports'>;

/** See the file's comment. */
export class ActualState extends EventEmitter<ActualStateEvents> {
  private readonly last = new Map<string, LastReport>();
  /** each host's stored heartbeat as `liveUntil` last met it, parsed */
  private readonly storedSeen = new Map<string, { text: string; ms: number }>();
  /** every host's instance rows: the store's at start, then each host's from its reports */
  private readonly rows = new Map<string, InstanceRow[]>();
  /** every row in the store's order, until the next change */
  private sorted: InstanceRow[] | undefined;
  private readonly events = new Map<string, EventView[]>();
  private readonly writer: StoreWriter;
  /** reads what other servers stored (with the bus) */
  private readonly reader: ReportReader | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  /** true while this model publishes: the bus tells its own subscriber at once, and that echo is not news */
  private publishing = false;

  /**
   * `bus`: share reports with the other servers on the database (PostgreSQL). Without it (SQLite,
   * one server) nothing is shared: this server hears every agent itself, so no report is stored.
   */
  constructor(
    private readonly store: ActualStateStore,
    /** a host whose last heartbeat is older than this is down */
    readonly downAfterMs: number,
    private readonly bus?: ChangeBus,
  ) {
    super();
    this.writer = new StoreWriter(
      store,
      bus && ((hosts) => this.announce(hosts)),
      // a report the store did not take (it holds a later one): read that one back
      (hosts) => this.reader?.want(hosts),
    );
    if (!bus) return;
    const reader = new ReportReader((hosts) => store.listHostReports(hosts), {
      stored: (host, report, at) => this.receiveStored(host, report, at),
      gone: (host) => this.forgetHere(host),
    });
    this.reader = reader;
    this.unsubscribe = bus.subscribe(CHANNELS.reports, {
      change: (payload) => {
        if (!this.publishing) reader.want(hostsOfPayload(payload));
      },
      resync: () => void this.reloadShared(),
    });
  }

  /** Reads what runs from the store: once, before the first report and the first route. */
  async load(): Promise<void> {
    const [stored, reports] = await Promise.all([this.store.listInstances(), this.bus ? this.store.listHostReports() : []]);
    this.rows.clear();
    for (const row of stored) {
      const ofHost = this.rows.get(row.host);
      if (ofHost) ofHost.push(row);
      else this.rows.set(row.host, [row]);
    }
    this.sorted = undefined;
    // every host's last report, as the servers stored it: a server that starts (or takes over a rollout) knows them at once
    applyStored(reports, { stored: (host, report, at) => this.takeStored(host, report, at) });
  }

  /**
   * Takes one report (the heartbeat). Its processes are written only when they changed (batched).
   * A report older than the last taken from the same agent start (its `order`: it was on its way
   * beside a newer one) counts as a heartbeat only, and its events are kept (seen ones once).
   */
  async receive(host: string, report: AgentReport): Promise<void> {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const taken = this.last.get(host)?.report.order;
    if (report.order && taken && report.order.boot === taken.boot && report.order.seq < taken.seq) {
      this.writer.beat(host, at);
      this.keepEvents(host, report);
      return;
    }
    const shared = this.bus ? sharedKey(report) : '';
    const prev = this.last.get(host);
    this.last.set(host, { report, at: now, sharedKey: shared, heardHere: true });
    this.writer.beat(host, at);
    const rowsChanged = !prev || !sameJson(prev.report.processes, report.processes) || !sameJson(prev.report.failures, report.failures);
    if (rowsChanged) {
      const rows = instanceRows(host, report, at);
      this.rows.set(host, rows);
      this.sorted = undefined;
      this.writer.instances(host, rows);
    }
    if (this.bus && (rowsChanged || prev.sharedKey !== shared)) this.writer.report(sharedReport(host, report, at));
    this.keepEvents(host, report);
    this.emit('report', host, report);
  }

  /**
   * Takes a host's report as another server stored it (received at `at`, ISO): its last report
   * and instance rows here, and the `report` event (a leading server's rollout steps on it). A
   * report this server holds that is as late or later (`laterReport`: the agent's order, then `at`) is kept. Nothing is written back.
   * Answers whether it was taken.
   */
  receiveStored(host: string, report: AgentReport, at: string): boolean {
    if (!this.takeStored(host, report, at)) {
      this.writeBack(host, report, at);
      return false;
    }
    this.emit('report', host, report);
    return true;
  }

  /**
   * The store holds a report of `host` earlier than one this server heard itself, and another:
   * this server's is written again (its report and rows), so the store and every server take it.
   * How: two starts of an agent compare by time, and a paused server's late report of the old
   * start may be stored after the new start's report came here, unchanged from the one before, so
   * written by no one (docs/servers.md). Only a strictly later one (`laterReport`, the store's
   * rule: two of the same time would be refused and read back at every flush), which the store
   * takes and the other servers then take too: it cannot loop.
   */
  private writeBack(host: string, stored: AgentReport, storedAt: string): void {
    const own = this.last.get(host);
    if (!own?.heardHere || !this.bus) return;
    if (!laterReport({ at: own.at, order: own.report.order }, { at: Date.parse(storedAt), order: stored.order })) return;
    if (
      sameJson(own.report.processes, stored.processes) &&
      sameJson(own.report.failures, stored.failures) &&
      own.sharedKey === sharedKey(stored)
    )
      return;
    const at = new Date(own.at).toISOString();
    const rows = this.rows.get(host);
    if (rows !== undefined) this.writer.instances(host, rows);
    this.writer.report(sharedReport(host, own.report, at));
  }

  /** Forgets a host the store no longer has (`noops host rm`): here, and (with the bus) on every server. */
  forget(host: string): void {
    this.forgetHere(host);
    this.writer.removed(host);
  }

  /** Forgets a host on this server alone: its rows, report, events and pending writes. */
  forgetHere(host: string): void {
    this.rows.delete(host);
    this.last.delete(host);
    this.storedSeen.delete(host);
    this.events.delete(host);
    this.sorted = undefined;
    this.writer.forget(host);
  }

  /** Resolves when the reports the bus announced so far were read and taken (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.reader?.settled();
  }

  private takeStored(host: string, report: AgentReport, at: string): boolean {
    const atMs = Date.parse(at);
    const prev = this.last.get(host);
    // the agent's order first: a paused server receives a report late, with a new `at`
    if (prev && !laterReport({ at: atMs, order: report.order }, { at: prev.at, order: prev.report.order })) return false;
    this.last.set(host, {
      report,
      at: atMs,
      sharedKey: sharedKey(report),
      heardHere: false,
    });
    this.rows.set(host, instanceRows(host, report, at));
    this.sorted = undefined;
    return true;
  }

  /** After a bus reconnect (announcements may have been missed): every stored report again, one query. */
  private async reloadShared(): Promise<void> {
    let rows: Awaited<ReturnType<ActualStateStore['listHostReports']>>;
    try {
      rows = await this.store.listHostReports();
    } catch (err) {
      process.emitWarning(`reports: reading the stored reports after a bus reconnect failed: ${(err as Error).message}`);
      return;
    }
    applyStored(rows, { stored: (host, report, at) => this.receiveStored(host, report, at) });
    // a host another server told of whose report is gone was removed meanwhile
    const stored = new Set(rows.map((r) => r.host));
    for (const [host, last] of this.last) if (!last.heardHere && !stored.has(host)) this.forgetHere(host);
  }

  /** Names the hosts on the bus, in payloads that fit; this model's own subscriber ignores the echo. */
  private async announce(hosts: string[]): Promise<void> {
    const sent: Promise<void>[] = [];
    this.publishing = true;
    try {
      for (const payload of hostPayloads(hosts)) sent.push(this.bus!.publish(CHANNELS.reports, payload));
    } finally {
      this.publishing = false;
    }
    await Promise.all(sent);
  }

  /** Every process of every instance, as last reported, sorted by host, tag and process (as the store lists them). */
  instances(): readonly InstanceRow[] {
    this.sorted ??= [...this.rows.values()].flat().sort(compareInstanceRows);
    return this.sorted;
  }

  private keepEvents(host: string, report: AgentReport): void {
    if (!report.events?.length) return;
    const ring = this.events.get(host) ?? [];
    // A report whose answer was lost is sent again: the same events must not count twice.
    const seen = new Set(ring.map((e) => `${e.at}|${e.seq}|${e.kind}|${e.name}`));
    for (const e of report.events) if (!seen.has(`${e.at}|${e.seq}|${e.kind}|${e.name}`)) ring.push({ ...e, host });
    this.events.set(host, ring.slice(-EVENTS_PER_HOST));
  }

  /** Recent events of every host (or one), oldest first. */
  recentEvents(host?: string): EventView[] {
    const all = host === undefined ? [...this.events.values()].flat() : (this.events.get(host) ?? []);
    return all.sort((a, b) => a.at.localeCompare(b.at) || a.seq - b.seq);
  }

  /** The crons of every host (or one), from the last reports. */
  crons(host?: string): CronView[] {
    const hosts = host === undefined ? [...this.last.keys()] : [host];
    return hosts.flatMap((h) => (this.last.get(h)?.report.crons ?? []).map((c) => ({ ...c, host: h })));
  }

  /** The hosts that reported since this server started (with the bus: or whose report another server stored). */
  hosts(): string[] {
    return [...this.last.keys()];
  }

  /** The host's last report since this server started (with the bus: the newest any server stored), if any. */
  lastReport(host: string): AgentReport | undefined {
    return this.last.get(host)?.report;
  }

  /**
   * The time of the host's last heartbeat: the newer of this server's and the store's
   * (`stored`, from the host's row: another server sharing the database may have had it).
   */
  lastSeen(host: string, stored: string | null): string | null {
    const mem = this.last.get(host)?.at;
    const storedMs = stored ? Date.parse(stored) : 0;
    if (mem === undefined) return stored;
    return mem >= storedMs ? new Date(mem).toISOString() : stored;
  }

  /**
   * The last moment (ms since the epoch) a host counts as up, from the newer of this server's
   * heartbeat and `stored` (its row's, as `lastSeen`); null when neither heard it. For what asks
   * at every report (naming's view): no date is written or parsed, but the stored one the first
   * time it is met.
   */
  liveUntil(host: string, stored: string | null): number | null {
    let seen = this.last.get(host)?.at;
    if (stored !== null) {
      let parsed = this.storedSeen.get(host);
      if (parsed === undefined || parsed.text !== stored) this.storedSeen.set(host, (parsed = { text: stored, ms: Date.parse(stored) }));
      if (seen === undefined || parsed.ms > seen) seen = parsed.ms;
    }
    return seen === undefined ? null : seen + this.downAfterMs;
  }

  /** Whether a host whose last heartbeat was `lastHeartbeat` is up at `now`. */
  isUp(lastHeartbeat: string | null, now = Date.now()): boolean {
    return lastHeartbeat !== null && now - Date.parse(lastHeartbeat) <= this.downAfterMs;
  }

  /** Writes that failed since start, by kind; each was logged and kept to try again. */
  get writeFailures(): Readonly<WriteFailures> {
    return this.writer.failures;
  }

  /** All failed writes, heartbeats and instances together. */
  get failedWrites(): number {
    return this.writer.failures.heartbeats + this.writer.failures.instances;
  }

  /** Writes the batched processes and heartbeats; resolves when what was pending is stored. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Writes what is pending, stops the writer's timer and stops hearing other servers. */
  close(): Promise<void> {
    this.unsubscribe?.();
    this.reader?.close();
    return this.writer.close();
  }
}
