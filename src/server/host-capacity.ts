/**
 * What each host offers, from its reports into the store (`hosts.capacity`, issue 18). The report
 * is the server's hottest path (10,000 agents every 5 s), and a host's capacity rarely changes:
 * each report's is compared with what this server last knew, and written only when it differs.
 * What it knows is read from the store once, and again every minute, so a host that reported a
 * change to another server of the same database is compared with what that server wrote.
 */
import type { HostCapacity, HostResources, HostView } from '../api/index.js';
import type { CapacityRow, ClusterRow, HostRow, Store } from '../store/index.js';
import type { ServerContext } from './context.js';

/** How often the known capacities are read again from the store (several servers on one database). */
export const CAPACITY_RELOAD_MS = 60_000;

/**
 * Free ports come and go with a host's connections: a change smaller than this share of the known
 * count is not written. The scheduler places instances that need a handful of ports, so 1% of
 * 28,000 is no news, while a host down to its last hundred ports is written at every change. At
 * 10,000 simulated agents on one machine (every one measuring the same ports) it was 5,582 writes
 * of the hosts table a minute during a deploy.
 */
export const PORTS_SLACK_SHARE = 0.01;

function same(a: CapacityRow | undefined, b: HostCapacity): boolean {
  return (
    a !== undefined &&
    a.cpu === b.cpu &&
    a.memory === b.memory &&
    a.disk === b.disk &&
    (a.freePorts === b.freePorts || Math.abs(a.freePorts - b.freePorts) < Math.floor(a.freePorts * PORTS_SLACK_SHARE))
  );
}

/** The capacities this server knows, and the writes of the changed ones. */
export class HostCapacities {
  private known = new Map<string, CapacityRow>();
  private loaded: Promise<void> | undefined;
  private loadedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records what `host` reported it offers, when it differs from what is known (free ports: by
   * PORTS_SLACK_SHARE or more; nothing when the report carries none: an agent before issue 18).
   */
  async note(host: string, capacity: HostCapacity | undefined): Promise<void> {
    if (capacity === undefined) return;
    if (this.loaded === undefined || this.now() - this.loadedAt >= CAPACITY_RELOAD_MS) this.reload();
    await this.loaded;
    if (same(this.known.get(host), capacity)) return;
    const row: CapacityRow = { cpu: capacity.cpu, memory: capacity.memory, disk: capacity.disk, freePorts: capacity.freePorts };
    this.known.set(host, row); // a second report before the write ends does not write again
    try {
      await this.store.schedule.setHostCapacity(host, row);
    } catch (err) {
      this.known.delete(host); // the next report tries again
      throw err;
    }
  }

  /** Forgets a host (removed: if it joins again, its first report is written). */
  forget(host: string): void {
    this.known.delete(host);
  }

  private reload(): void {
    this.loadedAt = this.now();
    const reading = this.store.schedule.listHostCapacities().then((all) => {
      this.known = all;
    });
    // a failed read is the report's error; the next report reads again
    this.loaded = reading.catch((err: unknown) => {
      this.loaded = undefined;
      throw err;
    });
  }
}

/** One per server context, made on first use (as `namingOf`). */
const books = new WeakMap<ServerContext, HostCapacities>();

/** The server's capacities book. */
export function capacitiesOf(ctx: ServerContext): HostCapacities {
  let book = books.get(ctx);
  if (!book) {
    book = new HostCapacities(ctx.store);
    books.set(ctx, book);
  }
  return book;
}

/**
 * What the scheduled clusters ask of each host: the sum, over the clusters whose hosts contain it,
 * of their spec's cpu and memory times their replicas there (hand-placed clusters ask nothing; disk is not asked for yet).
 */
export function allocatedByHost(clusters: readonly ClusterRow[]): Map<string, HostResources> {
  const out = new Map<string, HostResources>();
  for (const c of clusters) {
    if (!c.schedule) continue;
    for (const host of c.hosts) {
      const a = out.get(host) ?? { cpu: 0, memory: 0, disk: 0 };
      // each replica there asks as much (docs/scheduler.md#replicas)
      const n = c.replicas !== undefined && Object.hasOwn(c.replicas, host) ? c.replicas[host]! : 1;
      a.cpu += n * c.schedule.cpu;
      a.memory += n * c.schedule.memory;
      out.set(host, a);
    }
  }
  return out;
}

/** A host view's scheduler fields (issue 18): what it offers (once reported), what is asked of it, whether it drains. */
export function hostScheduleView(
  h: HostRow,
  allocated: ReadonlyMap<string, HostResources>,
): Pick<HostView, 'capacity' | 'allocated' | 'draining'> {
  return {
    ...(h.capacity && { capacity: h.capacity }),
    allocated: allocated.get(h.name) ?? { cpu: 0, memory: 0, disk: 0 },
    draining: h.draining === true,
  };
}
