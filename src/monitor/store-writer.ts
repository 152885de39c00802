/**
 * The store behind the read model: heartbeats and changed instances, written in batches. A
 * report costs no query: it leaves its heartbeat and (when they changed) its rows here, and one
 * transaction a second writes every host's. A write that fails is logged with its hosts and the
 * error, counted, and kept for the next flush; a newer report of a host replaces what was kept.
 */
import type { InstanceRow, Store } from '../store/index.js';

/** How often batched heartbeats are written: often enough for `hosts` to be current, rarely
 * enough that 10,000 agents cost a few transactions a second, not thousands. */
export const HEARTBEAT_FLUSH_MS = 1000;
/** How long changed processes wait to be written with others. Writing each host's in its own
 * transaction queued 1,000 transactions when a deploy switched 1,000 hosts, and the rollout's
 * own writes waited seconds behind them. Readers of the store's instances flush first (`flush`). */
export const INSTANCES_FLUSH_MS = 100;
/** Hosts named in a failed write's warning; the rest are counted ("and 997 more"). */
const HOSTS_NAMED_IN_WARNING = 5;

/** Writes that failed since the server started, by kind (each was kept and tried again). */
export interface WriteFailures {
  heartbeats: number;
  instances: number;
}

/** The part of the store the writer uses. */
export type StateStore = Pick<Store, 'touchHosts' | 'replaceInstancesMany'>;

/** Batches heartbeats and instance rows into the store; see the file's comment. */
export class StoreWriter {
  private pendingBeats = new Map<string, string>();
  private pendingInstances = new Map<string, InstanceRow[]>();
  private instancesTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** writes that failed and were kept to try again */
  readonly failures: WriteFailures = { heartbeats: 0, instances: 0 };

  constructor(private readonly store: StateStore) {
    this.timer = setInterval(() => void this.flush(), HEARTBEAT_FLUSH_MS);
    this.timer.unref();
  }

  /** Keeps the host's heartbeat (ISO time) for the next flush. */
  beat(host: string, at: string): void {
    this.pendingBeats.set(host, at);
  }

  /** Keeps the host's rows (all of them: they replace the stored ones) for a flush within INSTANCES_FLUSH_MS. */
  instances(host: string, rows: InstanceRow[]): void {
    this.pendingInstances.set(host, rows);
    this.instancesTimer ??= setTimeout(() => void this.flush(), INSTANCES_FLUSH_MS);
  }

  /** Drops what is kept for a host the store no longer has (`noops host rm`). */
  forget(host: string): void {
    this.pendingBeats.delete(host);
    this.pendingInstances.delete(host);
  }

  /** Writes the batched processes and heartbeats; resolves when what was pending is stored (or kept after a failure). */
  flush(): Promise<void> {
    clearTimeout(this.instancesTimer);
    this.instancesTimer = undefined;
    this.flushing = this.flushing.then(async () => {
      await this.writeInstances();
      await this.writeBeats();
    });
    return this.flushing;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    clearTimeout(this.instancesTimer);
  }

  private async writeInstances(): Promise<void> {
    if (this.pendingInstances.size === 0) return;
    const batch = this.pendingInstances;
    this.pendingInstances = new Map();
    try {
      await this.store.replaceInstancesMany([...batch].map(([host, rows]) => ({ host, rows })));
    } catch (err) {
      // Kept for the next flush, unless the host reported again meanwhile.
      for (const [host, rows] of batch) if (!this.pendingInstances.has(host)) this.pendingInstances.set(host, rows);
      this.instancesTimer ??= setTimeout(() => void this.flush(), HEARTBEAT_FLUSH_MS);
      this.failures.instances += 1;
      warn('processes', [...batch.keys()], err);
    }
  }

  private async writeBeats(): Promise<void> {
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
      this.failures.heartbeats += 1;
      warn('heartbeats', [...batch.keys()], err);
    }
  }
}

/** One warning per failed write, naming the first hosts and the error (the write is retried). */
function warn(what: string, hosts: string[], err: unknown): void {
  const named = hosts.slice(0, HOSTS_NAMED_IN_WARNING).join(', ');
  const more = hosts.length > HOSTS_NAMED_IN_WARNING ? ` and ${hosts.length - HOSTS_NAMED_IN_WARNING} more` : '';
  const reason = err instanceof Error ? err.message : String(err);
  process.emitWarning(`reports: writing ${hosts.length} hosts' ${what} failed, will retry (${named}${more}): ${reason}`);
}
