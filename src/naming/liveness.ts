/**
 * When live hosts stop being live: a host is up while its last heartbeat is younger than the
 * down-after time, so it goes down at a moment known in advance, unless it reports first. Each
 * live host waits in a `DeadlineWheel` for that moment; a report moves it later. Time passing
 * then costs a look at the hosts due, not at every host: the naming view swept all 10,000 hosts
 * every second before (issue 19).
 */
import { DeadlineWheel } from './watchers.js';

/**
 * A live host in the wheel (`tick`: the wheel's own bookkeeping). `until` is its last live moment
 * as last watched: a later report moves it here and leaves the wheel as it is; when the entry
 * comes due with its moment moved on, it is put back at that moment. A host that reports every
 * 5 s and lapses after 30 s moves in the wheel once in those 30 s, not at every report.
 */
interface Lapse {
  host: string;
  tick: number;
  until: number;
}

/**
 * See the file's comment. `lapsed` is called with the hosts that came due together, once per
 * firing of the wheel (the caller works them out again and wakes its watchers once).
 *
 * @example
 *   const liveness = new LivenessWheel((hosts) => hosts.forEach(recheck));
 *   liveness.watch('h1', Date.parse(lastHeartbeat) + downAfterMs); // on each report
 *   liveness.watch('h1', undefined); // not live: nothing to wait for
 */
export class LivenessWheel {
  private readonly entries = new Map<string, Lapse>();
  private readonly wheel = new DeadlineWheel<Lapse>((l) => this.due(l), { unref: true });
  private batch: string[] | undefined;
  /** hosts that came due having reported since, put back in the wheel once its firing is over */
  private back: Lapse[] | undefined;

  constructor(private readonly lapsed: (hosts: readonly string[]) => void) {}

  /** How many hosts are watched (live). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Watches `host` until `until` (ms since the epoch, its last live moment), in place of what it
   * was watched for before; undefined (or infinite): it is not live, nothing to wait for.
   */
  watch(host: string, until: number | undefined): void {
    const held = this.entries.get(host);
    if (until === undefined || !Number.isFinite(until)) {
      if (held) this.wheel.remove(held);
      this.entries.delete(host);
      return;
    }
    if (held) {
      if (until >= held.until) {
        held.until = until; // later (every report): seen when the entry comes due
        return;
      }
      this.wheel.remove(held); // sooner: moved now
    }
    const l: Lapse = { host, tick: 0, until };
    this.entries.set(host, l);
    this.wheel.add(l, dueAt(until));
  }

  /** Stops: nothing is due any more. */
  close(): void {
    this.wheel.drain();
    this.entries.clear();
  }

  /** One host came due; the wheel hands over every host due at once before the microtask runs. */
  private due(l: Lapse): void {
    if (this.entries.get(l.host) !== l) return;
    if (l.until >= Date.now()) {
      // it reported since: due at its new moment, added after the wheel's firing (a clock stepped
      // back meanwhile could make that moment one the firing still takes, again and again)
      if (this.back === undefined) {
        this.back = [];
        queueMicrotask(() => this.putBack());
      }
      this.back.push(l);
      return;
    }
    this.entries.delete(l.host);
    if (this.batch) {
      this.batch.push(l.host);
      return;
    }
    const batch = (this.batch = [l.host]);
    queueMicrotask(() => {
      this.batch = undefined;
      this.lapsed(batch);
    });
  }

  private putBack(): void {
    const back = this.back!;
    this.back = undefined;
    // one watched again meanwhile at a sooner moment, or no longer watched, is not this entry any more
    for (const l of back) if (this.entries.get(l.host) === l) this.wheel.add(l, dueAt(l.until));
  }
}

/** The first ms a host live until `until` is down; never now or earlier, so a source whose clocks disagree cannot spin. */
function dueAt(until: number): number {
  return Math.max(until + 1, Date.now() + 1);
}
