/**
 * The store behind the read model: heartbeats and changed instances, written in batches. A
 * report costs no query: it leaves its heartbeat and (when they changed) its rows here, and one
 * transaction a second writes every host's. A write that fails is logged with its hosts and the
 * error, counted, and kept for the next flush; a newer report of a host replaces what was kept.
 *
 * With several servers (issue 14), the changed reports themselves are kept here too and stored
 * in the same flush, right before the rows; once stored, their hosts are announced (`announce`,
 * the change bus) so that the other servers read them. A report the store did not take, as it
 * holds a later one of the host (another server heard it; this one received a request late, as
 * after a pause), is not announced, its host's rows are not written (they are as stale as the
 * report), and the host is given to `stale` (the read model reads the stored one back). A
 * failed write counts as an instances write (the rows and the report are one change); a failed
 * announce is logged and tried again.
 */
import type { InstanceRow, Store, StoredHostReport } from '../store/index.js';

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
export type StateStore = Pick<Store, 'touchHosts' | 'replaceInstancesMany' | 'putHostReports'>;

/** Batches heartbeats and instance rows into the store; see the file's comment. */
export class StoreWriter {
  private pendingBeats = new Map<string, string>();
  private pendingInstances = new Map<string, InstanceRow[]>();
  private pendingReports = new Map<string, StoredHostReport>();
  /** hosts whose report was stored (or removed) and not yet announced to the other servers */
  private unannounced = new Set<string>();
  private instancesTimer: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** writes that failed and were kept to try again */
  readonly failures: WriteFailures = { heartbeats: 0, instances: 0 };

  /**
   * `announce`: tells the other servers which hosts' stored reports changed (none: nothing is
   * shared). `stale`: hosts whose report the store did not take, as it holds a later one.
   */
  constructor(
    private readonly store: StateStore,
    private readonly announce?: (hosts: string[]) => Promise<void>,
    private readonly stale?: (hosts: string[]) => void,
  ) {
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

  /** Keeps the host's changed report, to be stored with the rows and announced (with several servers). */
  report(stored: StoredHostReport): void {
    this.pendingReports.set(stored.host, stored);
    this.instancesTimer ??= setTimeout(() => void this.flush(), INSTANCES_FLUSH_MS);
  }

  /** Drops what is kept for a host the store no longer has (`noops host rm`). */
  forget(host: string): void {
    this.pendingBeats.delete(host);
    this.pendingInstances.delete(host);
    this.pendingReports.delete(host);
  }

  /** Announces at the next flush that the host is gone (its stored report went with it), so the other servers forget it. */
  removed(host: string): void {
    if (!this.announce) return;
    this.unannounced.add(host);
    this.instancesTimer ??= setTimeout(() => void this.flush(), INSTANCES_FLUSH_MS);
  }

  /** Writes the batched processes and heartbeats; resolves when what was pending is stored (or kept after a failure). */
  flush(): Promise<void> {
    clearTimeout(this.instancesTimer);
    this.instancesTimer = undefined;
    this.flushing = this.flushing.then(async () => {
      await this.writeReports();
      await this.writeInstances();
      await this.announceStored();
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

  private async writeReports(): Promise<void> {
    if (this.pendingReports.size === 0) return;
    const batch = this.pendingReports;
    this.pendingReports = new Map();
    // the rows pending now are of these reports (or older); rows of a report received during the write are another array
    const rowsOf = new Map<string, InstanceRow[] | undefined>();
    for (const host of batch.keys()) rowsOf.set(host, this.pendingInstances.get(host));
    try {
      const taken = new Set(await this.store.putHostReports([...batch.values()]));
      const stale: string[] = [];
      for (const host of batch.keys()) {
        if (taken.has(host)) this.unannounced.add(host);
        else stale.push(host);
      }
      if (stale.length === 0) return;
      for (const host of stale) {
        const rows = rowsOf.get(host);
        if (rows !== undefined && this.pendingInstances.get(host) === rows) this.pendingInstances.delete(host);
      }
      this.stale?.(stale);
    } catch (err) {
      for (const [host, stored] of batch) if (!this.pendingReports.has(host)) this.pendingReports.set(host, stored);
      this.instancesTimer ??= setTimeout(() => void this.flush(), HEARTBEAT_FLUSH_MS);
      this.failures.instances += 1;
      warn('reports', [...batch.keys()], err);
    }
  }

  private async announceStored(): Promise<void> {
    if (this.unannounced.size === 0 || !this.announce) return;
    const hosts = [...this.unannounced];
    this.unannounced = new Set();
    try {
      await this.announce(hosts);
    } catch (err) {
      // Announced again with the next flush (within HEARTBEAT_FLUSH_MS): the store has the reports already.
      for (const host of hosts) this.unannounced.add(host);
      warn('reports (telling the other servers)', hosts, err);
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
