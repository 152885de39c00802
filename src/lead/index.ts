/**
 * One leader per control loop among the servers of one database (issue 14). Each server runs a
 * `Leadership`: every `leaseMs / RENEWS_PER_LEASE` it records itself alive and takes or renews
 * the lease of each loop (store/leases.ts: an atomic upsert in the database's clock). The server
 * that holds a loop's lease runs that loop; when it dies its lease expires and another server
 * takes it within `leaseMs` and a renewal. Its writes go through `Store.fenced(fence, ...)`, which
 * the database refuses once the lease is someone else's (NOOPS_E_FENCED): a server paused past
 * its lease cannot write, whatever it still believes.
 *
 * Locally a lease counts as held only until `leaseMs` after the request that took it was sent
 * (by this process's monotonic clock): never later than the database's expiry, so a server
 * that was paused stops leading by itself as soon as it runs again.
 *
 * @example
 *   const lead = new Leadership(store, { serverId: 'a1', loops: [LOOPS.rollout] });
 *   lead.on('gained', (loop, fence) => controller.lead(fence));
 *   lead.on('lost', (loop, why) => controller.follow(why));
 *   await lead.start('http://10.0.0.5:7700');
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Fence, ServerRow, Store } from '../store/index.js';
import { NoopsError } from '../errors/index.js';

export type { Fence, ServerRow } from '../store/index.js';

/** The control loops that have a leader. Stage 2 and 3 add theirs (judge, scheduler, migration). */
export const LOOPS = {
  /** steps every running deployment (src/rollout/) */
  rollout: 'rollout',
  /** judges every metric point against the strategies, runs nodata, delivers alarms (src/monitor/, issue 15) */
  judge: 'judge',
  /** rolls raw metric points up into Falcon's archives and drops what is past its retention (src/monitor/, issue 15) */
  history: 'history',
  /** places scheduled clusters, moves instances off failed and draining hosts, applies rebalances (server/schedule-*.ts, issue 18) */
  schedule: 'schedule',
} as const;

/** A lease lasts 5 s: a dead leader's loops are taken over within about that. */
export const DEFAULT_LEASE_MS = 5000;
/** Renewed five times per lease: four renewals may be lost (a slow query, a GC pause) before it is. */
export const RENEWS_PER_LEASE = 5;
/** Servers not seen for a day are forgotten at the next server's start. */
export const FORGET_SERVERS_AFTER_MS = 24 * 3600_000;

/** The part of the store a Leadership uses. */
export type LeaseStore = Pick<Store, 'acquireLease' | 'releaseLease' | 'touchServer' | 'removeServers' | 'listServers'>;

export interface LeadershipOptions {
  /** this server's id, unique among the database's servers; default: host name and a random part */
  serverId?: string;
  /** the loops to lead, when this server can get them */
  loops: readonly string[];
  /** default DEFAULT_LEASE_MS */
  leaseMs?: number;
  /** where failures to renew are logged (default: process warnings) */
  log?: (line: string) => void;
  /**
   * This server is alone on its database (SQLite, checked with `aloneOnDatabase`): its first
   * round takes every lease whoever held it (a server killed a moment ago holds them still).
   */
  alone?: boolean;
}

export interface LeadershipEvents {
  /** this server leads `loop` now, under `fence` (a new epoch each time it is gained) */
  gained: [loop: string, fence: Fence];
  /** this server no longer leads `loop` */
  lost: [loop: string, reason: string];
}

interface Held {
  epoch: number;
  /** performance.now() past which the lease may have expired */
  until: number;
}

/** A server id: its host's name and a random part (several servers may share a host in tests). */
export function newServerId(): string {
  return `${hostname().split('.')[0] || 'server'}-${randomBytes(3).toString('hex')}`;
}

/** See the file's comment. */
export class Leadership extends EventEmitter<LeadershipEvents> {
  readonly serverId: string;
  readonly leaseMs: number;
  private readonly held = new Map<string, Held>();
  private readonly startedAt = new Date().toISOString();
  private address = '';
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private rounds = 0;

  constructor(
    private readonly store: LeaseStore,
    private readonly opts: LeadershipOptions,
  ) {
    super();
    this.serverId = opts.serverId ?? newServerId();
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.setMaxListeners(0);
  }

  /**
   * Records this server (answering at `address`, or set later with `setAddress`), forgets
   * servers long gone, takes the leases it can, and keeps renewing them. Resolves after the
   * first round: a server alone leads at once.
   */
  async start(address = ''): Promise<void> {
    this.address = address;
    await this.store.removeServers({ before: new Date(Date.now() - FORGET_SERVERS_AFTER_MS).toISOString() });
    await this.round();
    this.timer = setInterval(() => void this.round(), Math.max(10, Math.floor(this.leaseMs / RENEWS_PER_LEASE)));
    this.timer.unref();
  }

  /** The URL this server answers at, once it listens (recorded at once). */
  async setAddress(address: string): Promise<void> {
    this.address = address;
    await this.store.touchServer({ id: this.serverId, address, startedAt: this.startedAt });
  }

  /** Whether this server leads `loop` now (its lease taken or renewed less than `leaseMs` ago). */
  leads(loop: string): boolean {
    const h = this.held.get(loop);
    return h !== undefined && performance.now() < h.until;
  }

  /** What this server's writes for `loop` go under while it leads it; undefined when it does not. */
  fence(loop: string): Fence | undefined {
    const h = this.held.get(loop);
    return h && performance.now() < h.until ? { loop, holder: this.serverId, epoch: h.epoch } : undefined;
  }

  /** The loops this server leads now. */
  loopsLed(): string[] {
    return this.opts.loops.filter((l) => this.leads(l));
  }

  /**
   * Called when the database refused a write under this server's fence (NOOPS_E_FENCED): it
   * stops leading the loop at once; a later round takes the lease again if it is free.
   */
  fenced(loop: string, reason: string): void {
    this.lose(loop, reason);
  }

  /** Every server of the database, with what each leads. */
  servers(): Promise<ServerRow[]> {
    return this.store.listServers();
  }

  /** Stops renewing, gives every lease up (the next server need not wait for them to expire) and forgets this server. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    for (const loop of [...this.held.keys()]) {
      this.lose(loop, 'the server is stopping');
      await this.store
        .releaseLease(loop, this.serverId)
        .catch((err: Error) => this.warn(`could not give up the ${loop} lease: ${err.message}`));
    }
    await this.store
      .removeServers({ id: this.serverId })
      .catch((err: Error) => this.warn(`could not remove itself from the servers: ${err.message}`));
  }

  /** One round: expire what was not renewed in time, say this server is alive, take or renew each lease. */
  private round(): Promise<void> {
    if (this.ticking || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = (async () => {
      for (const [loop, h] of this.held) {
        if (performance.now() >= h.until) this.lose(loop, `its lease ran out before it was renewed (${this.leaseMs} ms)`);
      }
      try {
        await this.store.touchServer({ id: this.serverId, address: this.address, startedAt: this.startedAt });
      } catch (err) {
        this.warn(`could not record this server as alive: ${(err as Error).message}`);
      }
      for (const loop of this.opts.loops) {
        const sent = performance.now();
        let epoch: number | undefined;
        try {
          epoch = await this.store.acquireLease(loop, this.serverId, this.leaseMs, this.opts.alone === true && this.rounds === 0);
        } catch (err) {
          this.warn(`could not take or renew the ${loop} lease: ${(err as Error).message}`);
          continue; // kept until its local deadline: one failed renewal is not a lost lease
        }
        if (this.stopped) return;
        const was = this.held.get(loop);
        if (epoch === undefined) {
          if (was) this.lose(loop, 'another server holds its lease');
          continue;
        }
        this.held.set(loop, { epoch, until: sent + this.leaseMs });
        if (was && was.epoch !== epoch) this.emit('lost', loop, `its lease was taken over (epoch ${was.epoch} -> ${epoch})`);
        if (!was || was.epoch !== epoch) this.emit('gained', loop, { loop, holder: this.serverId, epoch });
      }
      this.rounds += 1;
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private lose(loop: string, reason: string): void {
    if (!this.held.delete(loop)) return;
    this.emit('lost', loop, reason);
  }

  private warn(line: string): void {
    (this.opts.log ?? ((l: string) => process.emitWarning(l)))(`leadership: ${line}`);
  }
}

/**
 * Waits until no other server is alive on this database (seen within two renewals), at most
 * `leaseMs`: a server killed a moment ago stops being seen; one that keeps beating is running,
 * and a second server on one SQLite database is refused (NOOPS_E_SEVERAL_SERVERS): SQLite is
 * one machine's file, and several servers need PostgreSQL.
 *
 * @throws NoopsError NOOPS_E_SEVERAL_SERVERS naming the other server
 */
export async function aloneOnDatabase(store: LeaseStore, selfId: string, leaseMs = DEFAULT_LEASE_MS): Promise<void> {
  const freshMs = (2 * leaseMs) / RENEWS_PER_LEASE + 500;
  const deadline = Date.now() + leaseMs;
  for (;;) {
    const now = Date.now();
    const others = (await store.listServers()).filter((s) => s.id !== selfId && now - Date.parse(s.lastSeen) < freshMs);
    if (others.length === 0) return;
    if (now > deadline) {
      const o = others[0]!;
      throw new NoopsError(
        'NOOPS_E_SEVERAL_SERVERS',
        `another noops server (${o.id}, ${o.address}) is running on this SQLite database, seen ${now - Date.parse(o.lastSeen)} ms ago; several servers need PostgreSQL`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
