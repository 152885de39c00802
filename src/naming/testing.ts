/**
 * A test kit: a read model of what runs that tests fill by hand (hosts, their reports, whether
 * they are up), for the naming view and the DNS server without a server.
 */
import { EventEmitter } from 'node:events';
import type { AgentReport, ProcessReport } from '../api/index.js';
import type { HostRow, InstanceRow } from '../store/index.js';
import type { NamingSource } from './view.js';

/** See the file's comment. */
export class FakeSource extends EventEmitter implements NamingSource {
  readonly reports = new Map<string, AgentReport>();
  /** hosts down at once, whatever their last report (a view that sweeps notices; naming's view does not: it waits for time) */
  readonly down = new Set<string>();
  readonly rows: HostRow[] = [];
  /** when each host last reported (ms) */
  readonly seenAt = new Map<string, number>();
  /** a host goes down this long after its last report; undefined: never by time */
  downAfterMs: number | undefined;
  /** how often the view asked whether a host is up (tests count what time passing costs) */
  isUpCalls = 0;

  /** A host with an address (joined), reporting nothing yet. */
  addHost(name: string, address: string | null): void {
    this.rows.push({
      name,
      labels: {},
      address,
      joinedAt: '',
      lastHeartbeat: null,
      scope: null,
      pendingJoin: null,
      joinApprovedUntil: null,
    });
  }

  /** The host reports these processes (the view hears it). */
  report(host: string, processes: ProcessReport[]): void {
    this.reports.set(host, { processes, failures: [], generation: 1 });
    this.seenAt.set(host, Date.now());
    this.emit('report', host);
  }

  hosts(): string[] {
    return [...this.reports.keys()];
  }
  lastReport(host: string): AgentReport | undefined {
    return this.reports.get(host);
  }
  lastSeen(host: string, _stored: string | null = null): string | null {
    return this.down.has(host) ? null : new Date(this.seenAt.get(host) ?? Date.now()).toISOString();
  }
  isUp(lastHeartbeat: string | null, now = Date.now()): boolean {
    this.isUpCalls += 1;
    return lastHeartbeat !== null && now <= this.upUntil(lastHeartbeat);
  }
  liveUntil(host: string, stored: string | null): number | null {
    this.isUpCalls += 1;
    const seen = this.lastSeen(host, stored);
    return seen === null ? null : this.upUntil(seen);
  }
  private upUntil(lastHeartbeat: string): number {
    return this.downAfterMs === undefined ? Number.POSITIVE_INFINITY : Date.parse(lastHeartbeat) + this.downAfterMs;
  }
  instances(): InstanceRow[] {
    return [...this.reports].flatMap(([host, r]) =>
      r.processes.map((p) => ({
        ...p,
        host,
        restarts: 0,
        startedAt: null,
        error: null,
        container: p.container ?? null,
        address: p.address ?? null,
        updatedAt: '',
      })),
    );
  }
}

/** A process up (and healthy unless told) under `tag`. */
export function proc(tag: string, process = 'web', port: number | null = 8080, health: ProcessReport['health'] = 'healthy'): ProcessReport {
  return { tag, process, version: 'abcdef001', state: 'up', pid: 1, port, restarts: 0, startedAt: null, error: null, health };
}
