/**
 * `BalancerLoop`: the agent's side of the pools it drives. The desired-state long poll hands it
 * each `balancers` answer (`offer`) and asks it for the index to poll with (`pollIndex`); it
 * applies them off the poll's path (a slow balancer never holds back the reconcile of
 * processes), one apply at a time, and sends the reports (POST /agent/balancers) after each,
 * off the apply's path too: a change that comes while a report is on its way is applied at once
 * (reports sent one at a time; one waiting is replaced by a newer, which says all it said).
 * It applies again, and reports, every 250 ms while a member it holds drains with connections
 * open, else every heartbeat: a deletion that waited for sessions is tried again, and the
 * server sees the drain end.
 *
 *   poll ─ offer(balancers) ─► apply (BalancerApplier) ─► next: 250 ms | heartbeat
 *                                        └─► send(reports), one at a time, the newest waiting
 */
import type { BalancerReport, DesiredBalancers } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { BalancerApplier } from './applier.js';

/** How often a pool is applied and reported while a member drains with connections open. */
export const DRAIN_REPORT_MS = 250;

export interface BalancerLoopOptions {
  /** sends the reports to the server */
  send: (reports: BalancerReport[]) => Promise<void>;
  /** the agent's heartbeat now */
  heartbeatMs: () => number;
  log: (line: string) => void;
  applier?: BalancerApplier;
}

export class BalancerLoop {
  private readonly applier: BalancerApplier;
  /** the index of the last `balancers` answer seen: the poll passes it (undefined: the server does not take it) */
  private seen: number | undefined = 0;
  private desired: DesiredBalancers | undefined;
  private appliedIndex = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** the report being sent, and the newest one waiting for it */
  private sending: Promise<void> | undefined;
  private waitingReports: BalancerReport[] | undefined;
  /** the failures of the last apply, so a failure that repeats every heartbeat is logged once */
  private said = new Set<string>();
  private saying = new Set<string>();

  constructor(private readonly opts: BalancerLoopOptions) {
    this.applier = opts.applier ?? new BalancerApplier();
  }

  /** The `balancers=` of the next poll: the last index seen (0 at first); undefined for a server that does not take it. */
  pollIndex(): number | undefined {
    return this.seen;
  }

  /**
   * True (and the poll goes on without `balancers=`) when the server refused the parameter: a
   * server from before load balancers. The agent then drives none.
   */
  refusedBy(err: unknown): boolean {
    if (this.seen === undefined || !(err instanceof NoopsError) || err.code !== 'NOOPS_E_INPUT' || !err.message.includes('"balancers"'))
      return false;
    this.seen = undefined;
    this.opts.log('the server does not drive load balancers (it refused ?balancers=): polling without it');
    return true;
  }

  /**
   * The `balancers` of one answer. `trusted`: the answer's desired state was accepted (a refused
   * server's pools are not applied, but the index is kept so the poll waits for a change).
   */
  offer(balancers: DesiredBalancers | undefined, trusted: boolean): void {
    if (balancers === undefined || this.stopped) return;
    if (!Number.isSafeInteger(balancers.index) || balancers.index < 0 || !Array.isArray(balancers.pools)) {
      this.opts.log(`balancers: ignored an answer whose index or pools do not parse: ${JSON.stringify(balancers).slice(0, 200)}`);
      return;
    }
    if (this.seen !== undefined) this.seen = balancers.index;
    if (!trusted || (this.desired !== undefined && balancers.index === this.appliedIndex)) return;
    this.desired = balancers;
    this.appliedIndex = balancers.index;
    this.kick();
  }

  /** Applies the last pools now, or once more after the apply that runs. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.cycle().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      } else this.schedule();
    });
  }

  private async cycle(): Promise<void> {
    const desired = this.desired;
    if (desired === undefined) return;
    this.saying = new Set();
    await this.applyAndSend(desired);
    this.said = this.saying;
  }

  private async applyAndSend(desired: DesiredBalancers): Promise<void> {
    let reports: BalancerReport[];
    try {
      reports = await this.applier.apply(desired);
    } catch (err) {
      this.once(`balancers: apply failed: ${(err as Error).message}`);
      return;
    }
    for (const r of reports) if (!r.ok) this.once(`balancer ${r.name}: ${r.error}`);
    if (reports.length === 0 || this.stopped) return;
    this.waitingReports = reports;
    this.sending ??= this.sendWaiting().finally(() => {
      this.sending = undefined;
    });
  }

  /** Sends the waiting reports, one at a time, until none waits. */
  private async sendWaiting(): Promise<void> {
    for (let reports = this.waitingReports; reports !== undefined && !this.stopped; reports = this.waitingReports) {
      this.waitingReports = undefined;
      try {
        await this.opts.send(reports);
      } catch (err) {
        if (!(err instanceof NoopsError && (err.code === 'NOOPS_E_SERVER_UNREACHABLE' || err.code === 'NOOPS_E_UNAUTHORIZED'))) {
          this.once(`balancer report failed: ${(err as Error).message}`);
        }
      }
    }
  }

  /** The next apply: soon while a member drains with connections open, else at the heartbeat. */
  private schedule(): void {
    if (this.stopped || this.desired === undefined || this.desired.pools.length === 0) return;
    const ms = this.applier.draining() ? DRAIN_REPORT_MS : this.opts.heartbeatMs();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
  }

  private once(line: string): void {
    this.saying.add(line);
    if (!this.said.has(line)) this.opts.log(line);
  }

  /** No more applies or reports; resolves once the one that runs has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.sending;
  }
}
