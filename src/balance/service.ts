/**
 * Load-balancer pools as the server runs them (one per server): the view (view.ts), the drain
 * marks written and cleared, the balancers' reports taken, and the waits of drain-before-stop and
 * add-after-healthy (drain.ts). Every write is told on the bus's `balancers` channel, and every
 * server reads the pools, marks and reports again when it hears one.
 */
import type { BalancerMember, BalancerReport } from '../api/index.js';
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import type { NamingSource } from '../naming/index.js';
import { drainAndWait, waitReady, type DrainRequest, type DrainOutcome } from './drain.js';
import { clearedBy, sameMark } from './members.js';
import type { BalanceStore, DrainMark } from './ports.js';
import { PoolView, type PoolViewOptions } from './view.js';

/** A mark outlives its drain's deadline by this much, then counts for nothing (a server that died mid-drain leaves none for long). */
export const MARK_GRACE_MS = 60_000;
/** The bus payload of a report stored (then the pool's name, or nothing for several). */
const REPORT_PAYLOAD = 'report:';
/** How often expired marks are removed from the store. */
const SWEEP_DRAINS_MS = 60_000;

/** What the pools are worked out from, and where they are told. */
export interface BalancersDeps {
  /** the read model of what runs (monitor/'s ActualState) */
  reports: NamingSource;
  store: BalanceStore;
  /** every server's view hears every write (without one: this server alone) */
  bus?: ChangeBus;
  view?: PoolViewOptions;
}

/** See the file's comment. */
export class Balancers {
  readonly view: PoolView;
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly deps: BalancersDeps) {
    this.view = new PoolView(deps.reports, deps.store, deps.view);
    const reload = (): void => void this.view.reload();
    // `report:NAME`: a balancer's report (every 250 ms while one drains): only the reports are read again
    const change = (payload: string): void => void (payload.startsWith(REPORT_PAYLOAD) ? this.view.reloadReports() : this.view.reload());
    this.unsubscribe = deps.bus?.subscribe(CHANNELS.balancers, { change, resync: reload }) ?? (() => undefined);
    this.timer = setInterval(() => void this.sweepDrains(), SWEEP_DRAINS_MS).unref();
  }

  /** Reads the hosts, pools, marks and reports: before the first answer. */
  start(): Promise<void> {
    return this.view.start();
  }

  /** The pools, marks or reports changed in the store (a route wrote them): read again here and on every server. */
  async changed(payload = ''): Promise<void> {
    if (this.deps.bus) await this.deps.bus.publish(CHANNELS.balancers, payload);
    await this.view.reload(); // here, read before this returns (the bus's reload runs on its own)
  }

  /**
   * Marks the members of (`host`, `tag`, `version`: null any; with `pids`, only those process
   * instances) to drain until `timeoutMs` plus a grace from now; the view here takes it at once, the others when the bus tells them.
   */
  async mark(m: {
    host: string;
    tag: string;
    version: string | null;
    timeoutMs: number;
    reason: string;
    above?: number;
    /** only these process instances (a restart's: see DrainMark) */
    pids?: number[];
    /** only this process's instances (a restart of one process) */
    process?: string;
  }): Promise<DrainMark> {
    const mark: DrainMark = {
      host: m.host,
      tag: m.tag,
      version: m.version,
      until: new Date(Date.now() + m.timeoutMs + MARK_GRACE_MS).toISOString(),
      reason: m.reason,
      ...(m.above !== undefined && { above: m.above }),
      ...(m.pids !== undefined && { pids: [...m.pids].sort((a, b) => a - b) }),
      ...(m.process !== undefined && { process: m.process }),
    };
    await this.deps.store.putDrain(mark);
    this.view.setMarks([...this.view.drainMarks().filter((d) => !sameMark(d, mark)), mark]);
    await this.tell('drain');
    return mark;
  }

  /**
   * Clears the marks of `host` on `tag` (every version; with `above`, only the mark of the replicas
   * above it; with `process`, only that process's): its members follow their health again.
   */
  async clear(host: string, tag: string, above?: number, process?: string): Promise<void> {
    const cleared = (d: DrainMark): boolean => clearedBy(d, host, tag, above, process);
    if (!this.view.drainMarks().some(cleared)) return; // none here: nothing written
    await this.deps.store.clearDrains(host, tag, above, process);
    this.view.setMarks(this.view.drainMarks().filter((d) => !cleared(d)));
    await this.tell('drain');
  }

  /**
   * Takes a balancer host's reports. Every report must be of a pool `host` drives: one that is
   * not refuses them all (NOOPS_E_FORBIDDEN, nothing stored). A pool unknown here even after
   * reading the pools again (removed meanwhile) is skipped.
   */
  async receive(host: string, reports: readonly BalancerReport[]): Promise<{ stored: number }> {
    if (reports.some((r) => this.view.pool(r.name) === undefined)) await this.view.reload(); // set on another server a moment ago
    for (const r of reports) {
      const pool = this.view.pool(r.name);
      if (pool !== undefined && pool.host !== host)
        throw new NoopsError('NOOPS_E_FORBIDDEN', `pool ${r.name} is driven by host ${pool.host}, not by ${host}: no report was stored`, {
          hint: "an agent reports only the pools its host drives (`noops lb show NAME`: its host); check the agent's --name",
        });
    }
    const receivedAt = new Date().toISOString();
    let stored = 0;
    for (const report of reports) {
      if (this.view.pool(report.name) === undefined) continue;
      const row = { host, report, receivedAt };
      await this.deps.store.putBalancerReport(row);
      this.view.noteReport(row);
      stored += 1;
    }
    if (stored > 0) await this.tell(`${REPORT_PAYLOAD}${stored === 1 ? reports[0]!.name : ''}`);
    return { stored };
  }

  /** A pool's members with what its agent last reported of each (`noops lb show`; routes/balancers.ts). */
  members(name: string): BalancerMember[] {
    return this.view.members(name);
  }

  /** Drain before stop: marks, then waits for the balancers (see drain.ts). */
  drain(req: DrainRequest): Promise<DrainOutcome> {
    return drainAndWait(this, req);
  }

  /** Add after healthy: clears the marks of (`host`, `tag`), then waits until the pools holding its `version` report it ready. */
  async ready(req: { host: string; tag: string; version: string; timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    await this.clear(req.host, req.tag);
    await waitReady(this.view, req);
  }

  /** Removes expired marks from the store (any server may: it changes no answer, expired marks count for nothing). */
  async sweepDrains(): Promise<void> {
    try {
      await this.deps.store.sweepDrains(new Date().toISOString());
    } catch (err) {
      process.emitWarning(`balancers: removing expired drain marks failed (tried again in a minute): ${(err as Error).message}`);
    }
  }

  /** Stops listening and answers every parked poll. */
  close(): void {
    clearInterval(this.timer);
    this.unsubscribe();
    this.view.close();
  }

  /** Tells the other servers (on this one, the view already has it: the reload it causes reads the same). */
  private async tell(payload: string): Promise<void> {
    if (!this.deps.bus) return;
    await this.deps.bus.publish(CHANNELS.balancers, payload).catch((err: Error) => {
      process.emitWarning(`balancers: telling the other servers failed (they read the pools again within seconds): ${err.message}`);
    });
  }
}
