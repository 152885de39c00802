/**
 * Wakes agents that long-poll for their desired state when it changes, on every server: a
 * `notify` is published on the change bus (`bus/`), and each server, this one included, wakes
 * its own parked polls for that host when the change reaches it.
 *
 *   notify(host) --bus: desired host--> every server's hub: wake(host) --> listeners, then polls
 *   the bus reconnected (changes may be lost) --> wakeAll(): every parked poll reads the store
 *
 * Every wake is first told to the listeners (the DesiredView forgets the host's resolved
 * answer), so the polls it wakes read the new state.
 */
import { CHANNELS, type ChangeBus, LocalChangeBus, Waiters } from '../bus/index.js';

/**
 * Parked polls woken in one turn of the event loop at most (`DesiredHub.wakeSlices`): the desired
 * view's read slice (`READ_SLICE`), so that a woken slice is read in one go.
 */
export const WAKE_SLICE = 500;

/** How long a slice of a wake waits at most for the last one's hosts to be read (`DesiredHub.pace`). */
export const PACE_MAX_MS = 250;

/** Resolves when every one of `promises` has settled, or after `ms`, whichever is first (never rejects). */
export async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

export class DesiredHub {
  private readonly waiters = new Waiters();
  private readonly listeners: ((host: string) => void)[] = [];
  private readonly unsubscribe: () => void;
  /** hosts whose polls wake at the end of this turn (`wake`) */
  private due = new Set<string>();
  private dueScheduled = false;
  /** what the next slice of a wake waits for (`pace`), and for how long at most */
  private paceFn: (() => Promise<void>) | undefined;
  private paceMaxMs = PACE_MAX_MS;
  private closed = false;

  /** `bus`: where notifies travel; without one, this process alone (a command reader's hub, tests). */
  constructor(private readonly bus: ChangeBus = new LocalChangeBus()) {
    this.unsubscribe = bus.subscribe(CHANNELS.desired, { change: (host) => this.wake(host), resync: () => this.wakeAll() });
  }

  /** Calls `listener` with the host of every wake (a notify on any server), before its polls wake. */
  listen(listener: (host: string) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Paces a wake of more than WAKE_SLICE hosts: each slice after the first waits for `fn` (the
   * desired view's `idle`: the last slice's hosts read), for `maxMs` at most (PACE_MAX_MS; tests).
   */
  pace(fn: () => Promise<void>, maxMs = PACE_MAX_MS): void {
    this.paceFn = fn;
    this.paceMaxMs = maxMs;
  }

  /** Resolves when the host is woken or after `timeoutMs`, whichever is first. */
  wait(host: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(host, timeoutMs, signal);
  }

  /**
   * Calls `wake` at the host's next wake, once (the cheap wait of a parked agent poll: no promise,
   * timer or listener of its own). Undo with `unpark`.
   */
  park(host: string, wake: () => void): void {
    this.waiters.park(host, wake);
  }

  /** Takes back a `park` that was not woken. */
  unpark(host: string, wake: () => void): void {
    this.waiters.unpark(host, wake);
  }

  /** How many polls wait for `host` here now. */
  waiting(host: string): number {
    return this.waiters.count(host);
  }

  /**
   * The host's desired state (or what its agent is told) changed: its polls answer now, on every
   * server. Call it after the change is committed: the other servers read the store when told.
   */
  notify(host: string): void {
    // Here the wake is synchronous (inside publish); a failure to reach the others is logged,
    // and they still see the new generation within their long poll's timeout.
    this.bus.publish(CHANNELS.desired, host).catch((err: Error) => process.emitWarning(`hub: ${err.message}`));
  }

  /**
   * Wakes this server's polls for `host` (what a notify from any server does here): the listeners
   * at once (the next read of the host's answer is the new one), its polls at the end of this turn
   * of the event loop, all the turn's hosts together. A deploy to 10,000 hosts notifies them
   * inside its first step: waking and answering their polls there was 280 ms of the deploy call
   * (and of the rollout's round), which now answers first. A poll that parks before the end of the
   * turn is woken with the others; one that reads its generation after the change does not park.
   *
   * Past WAKE_SLICE hosts, the polls wake a slice at a time, each after two turns of the event
   * loop and the pace (`wakeSlices`); a poll whose code throws is logged, and the others wake.
   */
  wake(host: string): void {
    for (const listener of this.listeners) listener(host);
    this.due.add(host);
    if (this.dueScheduled) return;
    this.dueScheduled = true;
    setImmediate(() => {
      const hosts = this.due;
      this.due = new Set();
      this.dueScheduled = false;
      this.wakeSlices([...hosts], 0);
    });
  }

  /**
   * Wakes the polls of `hosts` from `from`, WAKE_SLICE of them, and the rest after two turns of
   * the event loop and the pace (`pace`: the view has read this slice's hosts; answered too,
   * unless their entry waits on I/O).
   * A woken poll holds what it has resolved (a promise, its read, its answer) until its answer
   * is written: 10,000 woken at once held all of it for 10,000 hosts while the view read and
   * answered them slice by slice, the young generation's collections found most of it alive and
   * moved it to the old one, and a major collection came in the middle of the answers (a
   * `--trace-gc` of the fan-out at 10,000: two scavenges that freed 2-3 MB each, then a
   * mark-compact; in slices, each scavenge freed 10 MB and half as much was promoted, no
   * mark-compact). Two turns: the view's read of this slice is queued (`setImmediate`) by the
   * polls this slice woke, after the next slice's first turn was. On SQLite the read is done
   * within its turn; on PostgreSQL it takes round trips, and the pace waits for them. A poll that
   * parks for a host whose slice is still to come is woken with it (and answers the generation it
   * read, again); a host notified again meanwhile is woken twice: no wake is lost.
   */
  private wakeSlices(hosts: readonly string[], from: number): void {
    const end = Math.min(from + WAKE_SLICE, hosts.length);
    for (let i = from; i < end; i++) {
      try {
        this.waiters.wake(hosts[i]!);
      } catch (err) {
        // a poll's code that throws must not leave the polls after it parked until their timeout
        process.emitWarning(`hub: waking a poll of ${hosts[i]} failed: ${(err as Error).stack ?? err}`);
      }
    }
    if (end >= hosts.length) return;
    setImmediate(() =>
      setImmediate(() => {
        const pace = this.paceFn;
        if (this.closed) return; // the server stops: notifyAll woke every poll
        if (pace === undefined) this.wakeSlices(hosts, end);
        else void settledWithin([pace()], this.paceMaxMs).then(() => !this.closed && this.wakeSlices(hosts, end));
      }),
    );
  }

  /** Wakes every poll parked here (on shutdown, and after the bus may have missed changes). */
  wakeAll(): void {
    for (const host of this.waiters.keys()) this.wake(host);
  }

  /** Wakes every poll parked here, all at once (the server stops: they are answered before their connections close). */
  notifyAll(): void {
    for (const host of this.waiters.keys()) for (const listener of this.listeners) listener(host);
    try {
      this.waiters.wakeAll();
    } catch (err) {
      // every other poll was woken; the server goes on stopping
      process.emitWarning(`hub: waking a poll failed: ${(err as Error).stack ?? err}`);
    }
  }

  /** Stops hearing the bus (the server closes), and the slices of a wake still to come. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
  }
}
