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
  readonly down = new Set<string>();
  readonly rows: HostRow[] = [];

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
    this.emit('report', host);
  }

  hosts(): string[] {
    return [...this.reports.keys()];
  }
  lastReport(host: string): AgentReport | undefined {
    return this.reports.get(host);
  }
  lastSeen(host: string): string | null {
    return this.down.has(host) ? null : new Date().toISOString();
  }
  isUp(lastHeartbeat: string | null): boolean {
    return lastHeartbeat !== null;
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
