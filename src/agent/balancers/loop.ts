/**
 * `BalancerLoop`: the agent's side of the pools it drives. The desired-state long poll hands it
 * each `balancers` answer (`offer`) and asks it for the index to poll with (`pollIndex`); it
 * applies them off the poll's path (a slow balancer never holds back the reconcile of
 * processes) and sends the reports (POST /agent/balancers) off the apply's path too.
 *
 * Each pool has a lane of its own: its applies run one at a time, and a pool never waits for
 * another's (an nginx reload, a keepalived check, a file synced on a busy disk). An offer goes
 * to every lane at once; a lane that is applying applies the newest pools right after, and an
 * offer that changes the pool's members cuts the apply that runs: it stops before its next
 * command (HAProxy's driver: a join waits for one command of the apply before it, not for all
 * of it; nginx --api's: its PUT is given up, nginx refusing it should it land after the newer
 * one) and has no report. The apply after a cut change runs to its end, so that a lane reports
 * however fast offers come (a cut periodic re-apply does not count). The pools
 * driven through a runtime API (HAProxy's socket, nginx's Lua control API) are applied first:
 * the pools driven by a file and a reload start once those applies of the same offer ended (or
 * after RUNTIME_FIRST_MAX_MS), so that a reload never takes the CPU from a runtime change.
 * Every pool is applied again (each in its lane, their reports in one POST) every 250 ms while a
 * member drains with connections open, else every heartbeat: a deletion that waited for sessions
 * is tried again, and the server sees the drain end. An offer puts that re-apply off until after
 * its own applies.
 *
 *   poll ─ offer(balancers) ─► plan (checks) ─┬─► lane per runtime pool ─► apply ─┐
 *                                             └─► lane per file pool ───► (after those) apply ─┤
 *                            all lanes again at 250 ms | heartbeat (reports together)          │
 *                    send(reports): one at a time, the newest of each pool waiting ◄──────────┘
 *
 * Each apply is published on the diagnostics channel BALANCER_APPLY_CHANNEL (when something
 * listens: bench/balancers times the join's path with it).
 */
import { channel } from 'node:diagnostics_channel';
import type { BalancerReport, DesiredBalancers } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { atRuntime, BalancerApplier } from './applier.js';
import type { ValidPool } from './validate.js';

/** How often a pool is applied and reported while a member drains with connections open. */
export const DRAIN_REPORT_MS = 250;
/**
 * How long the file pools of an offer wait for its runtime pools' applies: a runtime apply takes
 * a few ms (8 ms for HAProxy's add and ready, 4 ms for nginx's PUT, at load 12); an unreachable
 * socket waits its timeout (5 s), and a file pool should not wait that long behind it.
 */
export const RUNTIME_FIRST_MAX_MS = 1_000;

/**
 * The diagnostics channel of each pool's apply: `{pool, driver, index, offeredAt, startedAt,
 * endedAt, periodic, ok, cut}` (ms since the epoch; `offeredAt`: when the poll's answer brought this
 * index; `periodic`: a re-apply of the same index; `cut`: stopped for a newer pool).
 */
export const BALANCER_APPLY_CHANNEL = 'noops:balancers:apply';
const applyChannel = channel(BALANCER_APPLY_CHANNEL);

/** What a `BALANCER_APPLY_CHANNEL` message holds. */
export interface BalancerApplyTiming {
  pool: string;
  driver: string;
  index: number;
  offeredAt: number;
  startedAt: number;
  endedAt: number;
  periodic: boolean;
  ok: boolean;
  /** stopped before its end: a newer pool came (it has no report; the next apply has) */
  cut: boolean;
}

/** Publishes one apply on BALANCER_APPLY_CHANNEL (ended now). */
function publishApply(a: {
  pool: ValidPool;
  index: number;
  offeredAt: number;
  startedAt: number;
  periodic: boolean;
  ok: boolean;
  cut: boolean;
}): void {
  if (!applyChannel.hasSubscribers) return;
  const timing: BalancerApplyTiming = {
    pool: a.pool.name,
    driver: a.pool.driver + (atRuntime(a.pool) && a.pool.driver === 'nginx' ? '-api' : ''),
    index: a.index,
    offeredAt: a.offeredAt,
    startedAt: a.startedAt,
    endedAt: Date.now(),
    periodic: a.periodic,
    ok: a.ok,
    cut: a.cut,
  };
  applyChannel.publish(timing);
}

export interface BalancerLoopOptions {
  /** sends the reports to the server */
  send: (reports: BalancerReport[]) => Promise<void>;
  /** the agent's heartbeat now */
  heartbeatMs: () => number;
  log: (line: string) => void;
  applier?: BalancerApplier;
}

/** One pool's applies, one at a time. */
interface Lane {
  pool: ValidPool;
  index: number;
  /** when the offer of `index` came */
  offeredAt: number;
  running: Promise<void> | undefined;
  again: boolean;
  /** the next apply asked for is a re-apply of the same pools (no offer came) */
  periodic: boolean;
  /** told when an apply that started after they asked has ended */
  waiters: (() => void)[];
  /** the pool is no longer named: its apply that runs ends, and its report is dropped */
  dropped: boolean;
  /** the apply that runs, and its members (to tell an offer that changes them) */
  current: { cut: AbortController; members: string } | undefined;
  /** the last apply of a change was cut: the next one runs to its end, so that a lane reports however fast offers come */
  wasCut: boolean;
}

/** A pool's members as text: an offer that leaves them as they are does not cut the apply that runs. */
const membersKey = (pool: ValidPool): string => JSON.stringify(pool.members);

export class BalancerLoop {
  private readonly applier: BalancerApplier;
  /** the index of the last `balancers` answer seen: the poll passes it (undefined: the server does not take it) */
  private seen: number | undefined = 0;
  private desired: DesiredBalancers | undefined;
  private appliedIndex = 0;
  /** counts the offers applied: a file pool's delayed start is skipped when a newer offer came */
  private offers = 0;
  private readonly lanes = new Map<string, Lane>();
  /** the next re-apply of every pool (one timer, so that their reports go in one POST) */
  private roundTimer: NodeJS.Timeout | undefined;
  /** a re-apply of every pool runs: its reports wait until all of them are in */
  private holding = false;
  private stopped = false;
  /** the report being sent, and the newest one of each pool waiting for it */
  private sending: Promise<void> | undefined;
  private readonly waitingReports = new Map<string, BalancerReport>();
  /** the failure last logged per pool (`pool NAME`), plan and send, so that one that repeats every heartbeat is logged once */
  private readonly said = new Map<string, string>();

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
    this.plan(balancers, Date.now());
  }

  /** Checks the pools and hands each to its lane: the runtime pools at once, the file pools after them. */
  private plan(desired: DesiredBalancers, offeredAt: number): void {
    let planned: ReturnType<BalancerApplier['plan']>;
    try {
      planned = this.applier.plan(desired);
    } catch (err) {
      this.once('apply', `balancers: apply failed: ${(err as Error).message}`);
      return;
    }
    this.said.delete('apply');
    clearTimeout(this.roundTimer); // this offer's applies take the place of the next re-apply, which follows them
    const names = new Set(planned.pools.map((p) => p.name));
    for (const [name, lane] of this.lanes) {
      if (names.has(name)) continue;
      lane.dropped = true;
      if (!lane.running) this.lanes.delete(name); // else once its apply ended (named again meanwhile: it goes on)
      this.waitingReports.delete(name);
    }
    for (const r of planned.refused) this.once(`pool ${r.name}`, `balancer ${r.name}: ${r.error}`);
    this.queue(planned.refused);
    const offer = ++this.offers;
    const runtime = planned.pools.filter(atRuntime);
    const files = planned.pools.filter((p) => !atRuntime(p));
    const ahead = runtime.map((p) => this.kick(p, desired.index, offeredAt));
    const start = async (): Promise<void> => {
      if (this.stopped || offer !== this.offers) return; // a newer offer starts them with its own pools
      await Promise.all(files.map((p) => this.kick(p, desired.index, offeredAt)));
    };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, RUNTIME_FIRST_MAX_MS).unref();
    });
    const filesDone = Promise.race([Promise.all(ahead), late]).then(() => {
      clearTimeout(timer);
      return start();
    });
    void Promise.all([...ahead, filesDone]).then(() => {
      if (offer === this.offers) this.armRound();
    });
  }

  /** Applies `pool` in its lane now, or right after the apply that runs; resolves when an apply with it has ended. */
  private kick(pool: ValidPool, index: number, offeredAt: number): Promise<void> {
    let lane = this.lanes.get(pool.name);
    if (lane === undefined) {
      lane = {
        pool,
        index,
        offeredAt,
        running: undefined,
        again: false,
        periodic: false,
        waiters: [],
        dropped: false,
        current: undefined,
        wasCut: false,
      };
      this.lanes.set(pool.name, lane);
    }
    // the apply that runs is of other members: it stops before its next command, and this one follows at once
    if (lane.current && !lane.wasCut && lane.current.members !== membersKey(pool)) lane.current.cut.abort();
    lane.dropped = false;
    lane.pool = pool;
    lane.index = index;
    lane.offeredAt = offeredAt;
    lane.periodic = false;
    return this.run(lane);
  }

  private run(lane: Lane): Promise<void> {
    const done = new Promise<void>((resolve) => lane.waiters.push(resolve));
    if (lane.running) {
      lane.again = true;
      return done;
    }
    lane.running = (async () => {
      do {
        lane.again = false;
        const waiters = lane.waiters.splice(0);
        await this.applyOne(lane);
        for (const w of waiters) w();
      } while (lane.again && !this.stopped);
    })().finally(() => {
      lane.running = undefined;
      for (const w of lane.waiters.splice(0)) w(); // stopped: nobody waits on an apply that will not come
      if (lane.dropped && this.lanes.get(lane.pool.name) === lane) this.lanes.delete(lane.pool.name);
    });
    return done;
  }

  private async applyOne(lane: Lane): Promise<void> {
    const { pool, index, offeredAt, periodic } = lane;
    lane.periodic = true; // until an offer says otherwise, the next apply of this lane is a re-apply
    const startedAt = Date.now();
    const current = { cut: new AbortController(), members: membersKey(pool) };
    lane.current = current;
    let report: BalancerReport | undefined;
    try {
      report = await this.applier.applyPool(pool, index, current.cut.signal);
    } catch (err) {
      this.once(`pool ${pool.name}`, `balancers: apply failed: ${(err as Error).message}`);
      return;
    } finally {
      lane.current = undefined;
    }
    lane.wasCut = report === undefined && !periodic; // a cut re-apply delays no change's report: the change after it may be cut too
    if (report === undefined) {
      publishApply({ pool, index, offeredAt, startedAt, periodic, ok: false, cut: true });
      return; // a newer pool waits: its apply reports
    }
    publishApply({ pool, index, offeredAt, startedAt, periodic, ok: report.ok, cut: false });
    if (lane.dropped || this.stopped) return; // no longer driven
    if (report.ok) this.said.delete(`pool ${pool.name}`);
    else this.once(`pool ${pool.name}`, `balancer ${report.name}: ${report.error}`);
    this.queue([report], periodic);
  }

  /**
   * Waits for the send on its way: the newest report of each pool replaces the one waiting. The
   * reports of a re-apply of every pool wait until all of them are in (one POST, not one per pool).
   */
  private queue(reports: BalancerReport[], periodic = false): void {
    if (reports.length === 0 || this.stopped) return;
    for (const r of reports) this.waitingReports.set(r.name, r);
    if (!(periodic && this.holding)) this.flush();
  }

  private flush(): void {
    if (this.waitingReports.size === 0 || this.stopped) return;
    this.sending ??= this.sendWaiting().finally(() => {
      this.sending = undefined;
    });
  }

  /** Sends the waiting reports, one POST at a time, until none waits. */
  private async sendWaiting(): Promise<void> {
    while (this.waitingReports.size > 0 && !this.stopped) {
      const reports = [...this.waitingReports.values()].sort((a, b) => a.name.localeCompare(b.name));
      this.waitingReports.clear();
      try {
        await this.opts.send(reports);
        this.said.delete('send');
      } catch (err) {
        if (!(err instanceof NoopsError && (err.code === 'NOOPS_E_SERVER_UNREACHABLE' || err.code === 'NOOPS_E_UNAUTHORIZED'))) {
          this.once('send', `balancer report failed: ${(err as Error).message}`);
        }
      }
    }
  }

  /** The next re-apply of every pool: soon while a member of one drains with connections open, else at the heartbeat. */
  private armRound(): void {
    clearTimeout(this.roundTimer);
    if (this.stopped || this.lanes.size === 0) return;
    const draining = [...this.lanes.values()].some((l) => this.applier.draining(l.pool.name));
    this.roundTimer = setTimeout(() => void this.round(), draining ? DRAIN_REPORT_MS : this.opts.heartbeatMs());
  }

  /** Re-applies every pool (each in its lane), then sends their reports together. */
  private async round(): Promise<void> {
    this.holding = true;
    try {
      await Promise.all([...this.lanes.values()].map((lane) => this.run(lane)));
    } finally {
      this.holding = false;
      this.flush();
      this.armRound();
    }
  }

  /** Logs `line` unless it is what was last logged for `key`. */
  private once(key: string, line: string): void {
    if (this.said.get(key) === line) return;
    this.said.set(key, line);
    this.opts.log(line);
  }

  /** No more applies or reports; resolves once the ones that run have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.roundTimer);
    await Promise.all([...this.lanes.values()].map((l) => l.running));
    await this.sending;
    await this.applier.filesWritten(); // nginx --api's files, handed off by the applies
  }
}
