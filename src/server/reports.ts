/**
 * What agents report: the last report of every host (in memory, for the rollout controller),
 * heartbeats (batched to the store), and each host's processes (written only when they change,
 * batched too: a deploy changes every host's processes within a second).
 */
import { EventEmitter } from 'node:events';
import type { AgentReport, CronView, EventView, MetricSample } from '../api/types.js';
import type { InstanceRow, Store } from '../store/index.js';

/** How often batched heartbeats are written: often enough for `hosts` to be current, rarely
 * enough that 10,000 agents cost a few transactions a second, not thousands. */
export const HEARTBEAT_FLUSH_MS = 1000;
/** Events kept in memory per host: the last incidents of its watches, until monitoring stores them. */
export const EVENTS_PER_HOST = 500;
/** How long changed processes wait to be written with others. Writing each host's in its own
 * transaction queued 1,000 transactions when a deploy switched 1,000 hosts, and the rollout's
 * own writes waited seconds behind them. Readers of the instances flush first (`flush`). */
export const INSTANCES_FLUSH_MS = 100;

export interface ReportBookEvents {
  report: [host: string, report: AgentReport];
}

export class ReportBook extends EventEmitter<ReportBookEvents> {
  private readonly last = new Map<string, { report: AgentReport; at: number; key: string }>();
  private pendingBeats = new Map<string, string>();
  private readonly events = new Map<string, EventView[]>();
  private pendingInstances = new Map<string, InstanceRow[]>();
  private instancesTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** writes that failed and were kept to try again (tests, diagnostics) */
  failedWrites = 0;

  constructor(
    private readonly store: Store,
    /** a host whose last heartbeat is older than this is down */
    readonly downAfterMs: number,
  ) {
    super();
    this.timer = setInterval(() => void this.flush(), HEARTBEAT_FLUSH_MS);
    this.timer.unref();
  }

  /** Takes one report (the heartbeat). Persists processes only when they changed (batched). */
  async receive(host: string, report: AgentReport): Promise<void> {
    const now = Date.now();
    const key = JSON.stringify(report.processes);
    const prev = this.last.get(host);
    this.last.set(host, { report, at: now, key });
    this.pendingBeats.set(host, new Date(now).toISOString());
    if (!prev || prev.key !== key || failuresChanged(prev.report, report)) {
      const at = new Date(now).toISOString();
      const failures = new Map(report.failures.map((f) => [f.tag, f]));
      const rows: InstanceRow[] = report.processes.map((p) => ({
        host,
        tag: p.tag,
        process: p.process,
        version: p.version,
        state: p.state,
        pid: p.pid,
        port: p.port,
        restarts: p.restarts,
        startedAt: p.startedAt,
        error: p.error ?? (failures.get(p.tag) ? `${failures.get(p.tag)!.version}: ${failures.get(p.tag)!.error}` : null),
        updatedAt: at,
      }));
      this.pendingInstances.set(host, rows);
      this.instancesTimer ??= setTimeout(() => void this.flush(), INSTANCES_FLUSH_MS);
    }
    this.keepEvents(host, report);
    this.emit('report', host, report);
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

  /** The time of the host's last heartbeat: the newer of memory and the store's. */
  lastSeen(host: string, stored: string | null): string | null {
    const mem = this.last.get(host)?.at;
    const storedMs = stored ? Date.parse(stored) : 0;
    if (mem === undefined) return stored;
    return mem >= storedMs ? new Date(mem).toISOString() : stored;
  }

  isUp(lastHeartbeat: string | null, now = Date.now()): boolean {
    return lastHeartbeat !== null && now - Date.parse(lastHeartbeat) <= this.downAfterMs;
  }

  /** Writes the batched processes and heartbeats; resolves when what was pending is stored. */
  flush(): Promise<void> {
    clearTimeout(this.instancesTimer);
    this.instancesTimer = undefined;
    this.flushing = this.flushing.then(async () => {
      if (this.pendingInstances.size > 0) {
        const batch = this.pendingInstances;
        this.pendingInstances = new Map();
        try {
          await this.store.replaceInstancesMany([...batch].map(([host, rows]) => ({ host, rows })));
        } catch (err) {
          // Kept for the next flush, unless the host reported again meanwhile.
          for (const [host, rows] of batch) if (!this.pendingInstances.has(host)) this.pendingInstances.set(host, rows);
          this.instancesTimer ??= setTimeout(() => void this.flush(), HEARTBEAT_FLUSH_MS);
          this.failedWrites += 1;
          process.emitWarning(`reports: writing ${batch.size} hosts' processes failed, will retry: ${(err as Error).message}`);
        }
      }
      if (this.pendingBeats.size === 0) return;
      const batch = this.pendingBeats;
      this.pendingBeats = new Map();
      try {
        await this.store.touchHosts([...batch].map(([name, at]) => ({ name, at })));
      } catch (err) {
        // Kept for the next flush (the timer's, within HEARTBEAT_FLUSH_MS): a newer beat of a host wins.
        for (const [host, at] of batch) {
          const newer = this.pendingBeats.get(host);
          if (newer === undefined || newer < at) this.pendingBeats.set(host, at);
        }
        this.failedWrites += 1;
        process.emitWarning(`reports: writing ${batch.size} hosts' heartbeats failed, will retry: ${(err as Error).message}`);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    clearTimeout(this.instancesTimer);
  }
}

function failuresChanged(a: AgentReport, b: AgentReport): boolean {
  return JSON.stringify(a.failures) !== JSON.stringify(b.failures);
}
