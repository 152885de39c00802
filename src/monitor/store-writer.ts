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
 * after a pause), is announced all the same (its write may have committed with its answer lost),
 * its host's rows are not written (they are as stale as the report), and the host is given to
 * `stale` (the read model reads the stored one back). A
 * failed write counts as an instances write (the rows and the report are one change); a failed
 * announce is logged and tried again. A batch that failed ISOLATE_AFTER_FAILURES times in a row
 * is written in halves down to single hosts, and what the store refuses alone while others are written is given up.
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
/**
 * A batch of rows or reports that failed this many times in a row is written in halves, down to
 * single hosts (`writeEach`): one host's the store refuses (a value it cannot hold) failed every
 * batch, kept and tried again at every flush, and no other host's was ever written. What fails
 * alone while others are written is given up, with a warning naming the host and the store's error.
 */
export const ISOLATE_AFTER_FAILURES = 2;

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
  /** batches failed in a row, by kind (ISOLATE_AFTER_FAILURES) */
  private readonly failedInRow = { instances: 0, reports: 0 };

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
    // A host whose report is still to be stored (its write failed, or it came during this flush)
    // waits for it: were that report found stale, its rows must not have replaced newer ones.
    const batch = new Map<string, InstanceRow[]>();
    const waiting = new Map<string, InstanceRow[]>();
    for (const [host, rows] of this.pendingInstances) (this.pendingReports.has(host) ? waiting : batch).set(host, rows);
    this.pendingInstances = waiting;
    if (batch.size === 0) return;
    const write = (entries: [string, InstanceRow[]][]) => this.store.replaceInstancesMany(entries.map(([host, rows]) => ({ host, rows })));
    try {
      await write([...batch]);
      this.failedInRow.instances = 0;
    } catch (err) {
      this.failures.instances += 1;
      warn('processes', [...batch.keys()], err);
      let kept = batch;
      if (++this.failedInRow.instances >= ISOLATE_AFTER_FAILURES && batch.size > 1) {
        const each = await writeEach(batch, write, 'processes');
        kept = each.kept;
        // written in part, or the store away: the whole batch again next, split again only after ISOLATE_AFTER_FAILURES more
        this.failedInRow.instances = 0;
      }
      // Kept for the next flush, unless the host reported again meanwhile.
      for (const [host, rows] of kept) if (!this.pendingInstances.has(host)) this.pendingInstances.set(host, rows);
      if (kept.size > 0) this.instancesTimer ??= setTimeout(() => void this.flush(), HEARTBEAT_FLUSH_MS);
    }
  }

  private async writeReports(): Promise<void> {
    if (this.pendingReports.size === 0) return;
    const batch = this.pendingReports;
    this.pendingReports = new Map();
    // the rows pending now are of these reports (or older); rows of a report received during the write are another array
    const rowsOf = new Map<string, InstanceRow[] | undefined>();
    for (const host of batch.keys()) rowsOf.set(host, this.pendingInstances.get(host));
    /**
     * `written` were stored, or refused as older than the store's: all are announced (a refused
     * one may be a write that was committed though its answer was lost; the others read the
     * store's, which they keep only if later), the refused ones' rows are not written.
     */
    const settle = (written: Iterable<string>, taken: ReadonlySet<string>): void => {
      const stale: string[] = [];
      for (const host of written) {
        this.unannounced.add(host);
        if (!taken.has(host)) stale.push(host);
      }
      if (stale.length === 0) return;
      for (const host of stale) {
        const rows = rowsOf.get(host);
        if (rows !== undefined && this.pendingInstances.get(host) === rows) this.pendingInstances.delete(host);
      }
      this.stale?.(stale);
    };
    const write = (entries: [string, StoredHostReport][]) => this.store.putHostReports(entries.map(([, stored]) => stored));
    try {
      settle(batch.keys(), new Set(await write([...batch])));
      this.failedInRow.reports = 0;
    } catch (err) {
      this.failures.instances += 1;
      warn('reports', [...batch.keys()], err);
      let kept = batch;
      if (++this.failedInRow.reports >= ISOLATE_AFTER_FAILURES && batch.size > 1) {
        const each = await writeEach(batch, write, 'reports');
        kept = each.kept;
        settle(each.written, new Set(each.results.flat()));
        this.failedInRow.reports = 0;
      }
      for (const [host, stored] of kept) if (!this.pendingReports.has(host)) this.pendingReports.set(host, stored);
      if (kept.size > 0) this.instancesTimer ??= setTimeout(() => void this.flush(), HEARTBEAT_FLUSH_MS);
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
  process.emitWarning(`reports: writing ${hosts.length} hosts' ${what} failed, will retry (${named}${more}): ${errorText(err)}`);
}

/**
 * Writes `batch` (which failed whole) in halves, and the halves of a half that fails, down to one
 * host: one host the store refuses costs about 2 log2(n) writes, and the others are written in
 * large parts (host by host, a 10,000-host batch that failed twice for a passing reason would
 * have been 10,000 writes). Answers what each write gave, the hosts written, and those to keep:
 * after 2 log2(n) + 2 failures in a row (the way down to one bad host fails log2(n) + 1 times, to
 * two of them twice that) the store counts as away and the rest are kept untried. A host that
 * fails alone is given up, with a warning, only when the store said its data is wrong
 * (`refusesData`) and others were written; any other failure keeps it for the next flush.
 */
async function writeEach<T, R>(
  batch: ReadonlyMap<string, T>,
  write: (entries: [string, T][]) => Promise<R>,
  what: string,
): Promise<{ results: R[]; written: string[]; kept: Map<string, T> }> {
  const results: R[] = [];
  const written: string[] = [];
  const alone: { host: string; value: T; err: unknown }[] = [];
  const kept = new Map<string, T>();
  let failedInRow = 0;
  const awayAfter = 2 * Math.ceil(Math.log2(batch.size)) + 2;
  const part = async (entries: [string, T][]): Promise<void> => {
    if (failedInRow >= awayAfter) {
      for (const [host, value] of entries) kept.set(host, value);
      return;
    }
    try {
      results.push(await write(entries));
      failedInRow = 0;
      for (const [host] of entries) written.push(host);
    } catch (err) {
      failedInRow++;
      if (entries.length === 1) return void alone.push({ host: entries[0]![0], value: entries[0]![1], err });
      await halves(entries);
    }
  };
  const halves = async (entries: [string, T][]): Promise<void> => {
    const mid = Math.ceil(entries.length / 2);
    await part(entries.slice(0, mid));
    await part(entries.slice(mid));
  };
  await halves([...batch]);
  for (const { host, value, err } of alone) {
    if (written.length === 0 || !refusesData(err)) kept.set(host, value);
    else process.emitWarning(`reports: the store refuses ${host}'s ${what} (written alone, as others were): given up: ${errorText(err)}`);
  }
  return { results, written, kept };
}

/**
 * Whether the store refused the data itself, not the moment: PostgreSQL's data exceptions (SQLSTATE
 * class 22: a NUL, a number out of range) and integrity violations (23). A lock, a lost
 * connection or a serialization failure is none of these: what failed is kept.
 */
export function refusesData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
