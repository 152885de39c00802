/**
 * The one read model of actual state: what runs where, and whether each host is up, as the
 * agents report it. In memory, with the store behind it: loaded from the store when the server
 * starts, updated by every report at once, written back in batches (`StoreWriter`). Every route
 * and the rollout controller read it: `ps`, the tree's health, a node's page, metrics, events,
 * crons, and each host's last report.
 */
import { EventEmitter } from 'node:events';
import type { AgentReport, CronView, EventView, MetricSample } from '../api/index.js';
import type { InstanceRow, Store } from '../store/index.js';
import { compareInstanceRows, instanceRows } from './instances.js';
import { StoreWriter, type WriteFailures } from './store-writer.js';

/** Events kept in memory per host: the last incidents of its watches, until monitoring stores them. */
export const EVENTS_PER_HOST = 500;

/** What the model tells its listeners. */
export interface ActualStateEvents {
  /** a host reported (the rollout controller steps on it) */
  report: [host: string, report: AgentReport];
}

/** The host's last report, when it came, and its processes as one string (to see a change). */
interface LastReport {
  report: AgentReport;
  at: number;
  processesKey: string;
}

/** See the file's comment. */
export class ActualState extends EventEmitter<ActualStateEvents> {
  private readonly last = new Map<string, LastReport>();
  /** every host's instance rows: the store's at start, then each host's from its reports */
  private readonly rows = new Map<string, InstanceRow[]>();
  /** every row in the store's order, until the next change */
  private sorted: InstanceRow[] | undefined;
  private readonly events = new Map<string, EventView[]>();
  private readonly writer: StoreWriter;

  constructor(
    private readonly store: Pick<Store, 'listInstances' | 'touchHosts' | 'replaceInstancesMany'>,
    /** a host whose last heartbeat is older than this is down */
    readonly downAfterMs: number,
  ) {
    super();
    this.writer = new StoreWriter(store);
  }

  /** Reads what runs from the store: once, before the first report and the first route. */
  async load(): Promise<void> {
    const stored = await this.store.listInstances();
    this.rows.clear();
    for (const row of stored) {
      const ofHost = this.rows.get(row.host);
      if (ofHost) ofHost.push(row);
      else this.rows.set(row.host, [row]);
    }
    this.sorted = undefined;
  }

  /** Takes one report (the heartbeat). Its processes are written only when they changed (batched). */
  async receive(host: string, report: AgentReport): Promise<void> {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const processesKey = JSON.stringify(report.processes);
    const prev = this.last.get(host);
    this.last.set(host, { report, at: now, processesKey });
    this.writer.beat(host, at);
    if (!prev || prev.processesKey !== processesKey || failuresChanged(prev.report, report)) {
      const rows = instanceRows(host, report, at);
      this.rows.set(host, rows);
      this.sorted = undefined;
      this.writer.instances(host, rows);
    }
    this.keepEvents(host, report);
    this.emit('report', host, report);
  }

  /** Forgets a host the store no longer has (`noops host rm`): its rows, report, events and pending writes. */
  forget(host: string): void {
    this.rows.delete(host);
    this.last.delete(host);
    this.events.delete(host);
    this.sorted = undefined;
    this.writer.forget(host);
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

  /** The latest metrics of every host (or one), from the last reports. */
  metrics(host?: string): MetricSample[] {
    const hosts = host === undefined ? [...this.last.keys()] : [host];
    return hosts.flatMap((h) => this.last.get(h)?.report.metrics ?? []);
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

  /** The hosts that reported since this server started. */
  hosts(): string[] {
    return [...this.last.keys()];
  }

  /** The host's last report since this server started, if any. */
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

  /** Writes what is pending and stops the writer's timer. */
  close(): Promise<void> {
    return this.writer.close();
  }
}

function failuresChanged(a: AgentReport, b: AgentReport): boolean {
  return JSON.stringify(a.failures) !== JSON.stringify(b.failures);
}
