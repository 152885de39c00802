/**
 * The scheduler loop among the servers of one database (issue 18; docs/scheduler.md): the server
 * that leads `LOOPS.schedule` plans and applies; every server answers plans and rebalances (they
 * read the same state) and names stale copies in its agents' `stops`.
 *
 *   Leadership gained(schedule) ──> loop.lead()   (a tick every second)
 *   Leadership lost(schedule)   ──> loop.follow()   (the old fence kept: a late write is refused)
 *   bus `tree` (clusters, hosts), `deployments`, `schedule` wake ──> loop.wake()   (plan now)
 *   bus `schedule` stale        ──> every server reads the stale copies again (agents' `stops`)
 */
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { type Fence, type Leadership, LOOPS } from '../lead/index.js';
import type { Store } from '../store/index.js';
import type { ServerContext } from './context.js';
import { ScheduleLoop } from './schedule-loop.js';
import { replicaDrains } from './schedule-drains.js';
import { schedulePlanner } from './schedule-planner.js';
import { scheduleState, scheduleWriter } from './schedule-store-ports.js';

/** What the routes and the agent poll use. */
export interface ScheduleService {
  loop: ScheduleLoop;
  /** the tags whose copies on `host` are stale: its desired state's `stops` name them */
  staleFor(host: string): readonly string[];
  close(): Promise<void>;
}

/** The stale copies by host, kept in memory (the agent poll is hot) and read again when the bus says so. */
export class StaleCopies {
  private byHost = new Map<string, string[]>();
  constructor(private readonly store: Pick<Store, 'listStaleCopies'>) {}

  /** Reads every stale copy again. */
  async load(): Promise<void> {
    const next = new Map<string, string[]>();
    for (const s of await this.store.listStaleCopies()) next.set(s.host, [...(next.get(s.host) ?? []), s.tag]);
    this.byHost = next;
  }

  /** The tags stale on `host`. */
  of(host: string): readonly string[] {
    return this.byHost.get(host) ?? [];
  }
}

/** `stops` with the stale tags added (sorted, once each). */
export function withStale(stops: readonly string[], stale: readonly string[]): readonly string[] {
  if (stale.length === 0) return stops;
  return [...new Set([...stops, ...stale])].sort();
}

/** Wires the loop to the leadership and the bus; answers the service the routes use. */
export async function wireSchedule(w: {
  ctx: Pick<ServerContext, 'store' | 'reports' | 'rollout' | 'hub' | 'bus' | 'balancers'>;
  leadership: Leadership;
  bus: ChangeBus;
  downAfterMs?: number;
  maxMigrateShare?: number;
  log: (line: string) => void;
  /** one server on SQLite: nobody can take its leases, so its writes go unfenced (as the rollout's) */
  alone?: boolean;
}): Promise<ScheduleService> {
  let fence: Fence | undefined;
  const loop = new ScheduleLoop({
    state: scheduleState(w.ctx),
    write: scheduleWriter(w.ctx, w.log, () => fence),
    planner: schedulePlanner(),
    drains: replicaDrains(w.ctx),
    downAfterMs: w.downAfterMs,
    maxMigrateShare: w.maxMigrateShare,
    log: w.log,
  });
  const stale = new StaleCopies(w.ctx.store);
  await stale.load();
  const reload = (): void => void stale.load().catch((err: Error) => w.log(`schedule: reading the stale copies: ${err.message}`));
  const unsubscribe = [
    w.bus.subscribe(CHANNELS.schedule, {
      change: (payload) => (payload === 'stale' ? reload() : loop.wake()),
      resync: () => {
        reload();
        loop.wake();
      },
    }),
    w.bus.subscribe(CHANNELS.tree, { change: () => loop.wake(), resync: () => loop.wake() }),
    w.bus.subscribe(CHANNELS.deployments, { change: () => loop.wake(), resync: () => loop.wake() }),
  ];
  loop.on('fenced', (why) => w.leadership.fenced(LOOPS.schedule, why));
  w.leadership.on('gained', (name, f) => {
    if (name !== LOOPS.schedule) return;
    fence = w.alone ? undefined : f;
    loop.lead();
  });
  w.leadership.on('lost', (name) => {
    if (name !== LOOPS.schedule) return;
    // The fence is kept: a write of a tick already past its "do I lead?" check goes under it, and
    // the database refuses it once another server holds the lease (or it expired). Dropped here, that
    // write went through as a plain transaction, over the new leader's. A new lead brings a new fence.
    void loop.follow();
  });
  return {
    loop,
    staleFor: (host) => stale.of(host),
    async close() {
      for (const u of unsubscribe) u();
      await loop.follow();
    },
  };
}
