/**
 * A test kit: the balancer store in memory (pools, drain marks, reports, hosts' rows), for the
 * view, the hooks and the server's routes without a database.
 */
import type { BalancerView as PoolRow, ProcessReport } from '../api/index.js';
import type { HostRow } from '../store/index.js';
import { clearedBy, sameMark } from './members.js';
import type { BalanceStore, DrainMark, StoredBalancerReport } from './ports.js';
import type { Balancers } from './service.js';

/** The read model of what runs, filled by hand: naming's test kit (hosts' reports, which hosts are down). */
export { FakeSource as FakeRuns } from '../naming/testing.js';

/** A process of `tag` at `version`, up and healthy unless told. */
export function upProcess(
  tag: string,
  version: string,
  opts: { process?: string; port?: number | null; health?: ProcessReport['health']; state?: ProcessReport['state'] } = {},
): ProcessReport {
  return {
    tag,
    process: opts.process ?? 'web',
    version,
    state: opts.state ?? 'up',
    pid: 1,
    port: opts.port === undefined ? 8080 : opts.port,
    restarts: 0,
    startedAt: null,
    error: null,
    health: opts.health ?? 'healthy',
  };
}

/** See the file's comment. */
export class MemoryBalanceStore implements BalanceStore {
  hosts: HostRow[] = [];
  readonly pools = new Map<string, PoolRow>();
  drains: DrainMark[] = [];
  readonly reports = new Map<string, StoredBalancerReport>();

  /** A joined host with an address. */
  addHost(name: string, address: string | null): void {
    this.hosts.push({
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

  /** A pool as `noops lb set` stores it. */
  setPool(name: string, spec: Omit<PoolRow, 'name' | 'createdBy' | 'createdAt' | 'updatedAt'>): void {
    const at = new Date().toISOString();
    this.pools.set(name, { name, ...spec, createdBy: 'test', createdAt: at, updatedAt: at });
  }

  async listHosts(): Promise<HostRow[]> {
    return this.hosts;
  }
  async listBalancers(): Promise<PoolRow[]> {
    return [...this.pools.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  async listDrains(): Promise<DrainMark[]> {
    return [...this.drains];
  }
  async putDrain(mark: DrainMark): Promise<void> {
    this.drains = [...this.drains.filter((d) => !sameMark(d, mark)), mark];
  }
  async clearDrains(host: string, tag: string, above?: number, process?: string): Promise<void> {
    this.drains = this.drains.filter((d) => !clearedBy(d, host, tag, above, process));
  }
  async sweepDrains(now: string): Promise<void> {
    this.drains = this.drains.filter((d) => d.until >= now);
  }
  async listBalancerReports(): Promise<StoredBalancerReport[]> {
    return [...this.reports.values()];
  }
  async putBalancerReport(row: StoredBalancerReport): Promise<void> {
    this.reports.set(row.report.name, row);
  }
}

/**
 * A balancer host's agent, faked: it follows its host's desired pools (the view's long poll) and
 * reports each pool with its members as told and the connections the test sets (by member id).
 * `broken`: it reports `ok: false`; `silent`: it reports nothing.
 */
export class FakeBalancerAgent {
  /** open connections by member id (absent: 0) */
  readonly connections = new Map<string, number | null>();
  broken: string | undefined;
  silent = false;
  /** how many reports it sent */
  sent = 0;
  private stopped = false;
  private readonly left = new AbortController();
  private readonly loop: Promise<void>;

  constructor(
    private readonly balancers: Pick<Balancers, 'view' | 'receive'>,
    private readonly host: string,
  ) {
    this.loop = this.run();
  }

  /** Reports again now (as the real agent does every 250 ms while a member drains). */
  async report(): Promise<void> {
    if (this.silent) return;
    const desired = this.balancers.view.desired(this.host);
    const at = new Date().toISOString();
    this.sent += 1;
    await this.balancers.receive(
      this.host,
      desired.pools.map((p) => ({
        name: p.name,
        index: desired.index,
        ok: this.broken === undefined,
        ...(this.broken !== undefined && { error: this.broken }),
        at,
        members: p.members.map((m) => ({
          id: m.id,
          state: m.state,
          connections: this.connections.has(m.id) ? this.connections.get(m.id)! : 0,
        })),
      })),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.left.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    let index = -1;
    while (!this.stopped) {
      await this.balancers.view.wait(this.host, index, 60_000, this.left.signal);
      if (this.stopped) return;
      index = this.balancers.view.index(this.host);
      await this.report().catch(() => undefined);
    }
  }
}
