/**
 * Drain before a lower count (docs/scheduler.md, "Replicas"): when a scheduled cluster runs fewer
 * replicas on a host that keeps it, the replicas above the new count are taken out of every pool
 * that holds them before the host's desired entry drops (and its agent stops them), as any stop:
 *
 *   a lower count on a host ──► no pool holds its replicas above it? ──► written at once (as before)
 *     else ──► drain mark of (host, tag, replicas above the count) ──► the balancers report them
 *       drained, or the drain deadline passed (the release's or the cluster's `drain_timeout`) ──►
 *       the lower count written ──► the agent stops them ──► no pool holds them: the mark cleared
 *
 * The wait spans ticks (a tick never waits on a balancer): the drain runs beside the loop, which
 * writes the count at the first tick after it ended. A drain that fails (a balancer that does not
 * follow) keeps the count and is tried again after RETRY_MS. What is in flight is in memory: a
 * server that takes the loop over starts the drain again (the mark is the same).
 */
import { replicaCount } from '../api/index.js';
import { covers, drainTimeoutOf } from '../balance/index.js';
import type { ServerContext } from './context.js';
import type { ReplicaDrains } from './schedule-ports.js';

/** A drain that failed is started again after this long (the scheduler's retry of a deploy). */
export const DRAIN_RETRY_MS = 10_000;

/** One host's lower count of one cluster, on its way. */
interface Shrink {
  /** the count it goes to: the replicas above it drain */
  above: number;
  /** draining: the balancers are waited on; drained: the count may be written; stopping: written, the mark waits for the stop */
  state: 'draining' | 'drained' | 'failed' | 'stopping';
  /** when it failed (ms since the epoch) */
  at: number;
}

/** See the file's comment; the loop keeps one. */
export class ReplicaDrainer {
  private readonly shrinks = new Map<string, Shrink>();

  constructor(
    private readonly drains: ReplicaDrains | undefined,
    private readonly o: { now: () => number; log: (line: string) => void; wake: () => void },
  ) {}

  /**
   * Of the count changes `recount` (hosts of `tag` whose `desired` entry runs another count), those
   * that may be written now: rises, and drops whose removed replicas are drained (or that no pool
   * holds); the drains the others need are started.
   */
  async ready(
    tag: string,
    desired: readonly { host: string; replicas?: number }[],
    recount: readonly { host: string; replicas: number }[],
  ): Promise<{ host: string; replicas: number }[]> {
    const out: { host: string; replicas: number }[] = [];
    for (const c of recount) {
      const key = keyOf(tag, c.host);
      let s = this.shrinks.get(key);
      const from = replicaCount(desired.find((d) => d.host === c.host) ?? {});
      // a rise (the mark would drain the new replicas), or a shrink to another count: the old mark goes
      if (s !== undefined && (c.replicas >= from || s.above !== c.replicas)) {
        await this.forget(tag, c.host, s);
        s = undefined;
      }
      if (this.drains === undefined || c.replicas >= from) {
        out.push(c);
        continue;
      }
      if (s === undefined) {
        if (!this.drains.held(tag, c.host, c.replicas))
          out.push(c); // in no pool: nothing to drain
        else this.start(tag, c.host, c.replicas);
        continue;
      }
      if (s.state === 'drained' || s.state === 'stopping') {
        s.state = 'stopping';
        out.push(c);
      } else if (s.state === 'failed' && this.o.now() - s.at >= DRAIN_RETRY_MS) this.start(tag, c.host, c.replicas);
    }
    return out;
  }

  /** Whether a lower count of `tag` is on its way (the loop looks again though nothing else changed). */
  busy(tag: string): boolean {
    for (const key of this.shrinks.keys()) if (key.startsWith(keyOf(tag, ''))) return true;
    return false;
  }

  /**
   * The marks of `tag`'s lower counts written, cleared once no pool holds the removed replicas
   * (their agent stopped them); those of a host that left the cluster (its undeploy drains it).
   */
  async sweep(tag: string, desired: readonly { host: string }[]): Promise<void> {
    if (this.drains === undefined || !this.busy(tag)) return;
    const hosts = new Set(desired.map((d) => d.host));
    const prefix = keyOf(tag, '');
    for (const [key, s] of [...this.shrinks]) {
      if (!key.startsWith(prefix)) continue;
      const host = key.slice(prefix.length);
      if (!hosts.has(host) || (s.state === 'stopping' && !this.drains.held(tag, host, s.above))) await this.forget(tag, host, s);
    }
  }

  private start(tag: string, host: string, above: number): void {
    const s: Shrink = { above, state: 'draining', at: 0 };
    this.shrinks.set(keyOf(tag, host), s);
    this.drains!.drain(tag, host, above).then(
      () => {
        if (s.state === 'draining') s.state = 'drained';
        this.o.wake(); // the count is written at the next tick, not a second later
      },
      (err: Error) => {
        s.state = 'failed';
        s.at = this.o.now();
        this.o.log(
          `schedule: ${tag} on ${host} keeps its replicas above ${above} (tried again in ${DRAIN_RETRY_MS / 1000} s): ${err.message}`,
        );
      },
    );
  }

  private async forget(tag: string, host: string, s: Shrink): Promise<void> {
    this.shrinks.delete(keyOf(tag, host));
    await this.drains!.clear(tag, host, s.above);
  }
}

function keyOf(tag: string, host: string): string {
  return `${tag}\n${host}`;
}

/** The balancers of this server as the loop's `ReplicaDrains`. */
export function replicaDrains(ctx: Pick<ServerContext, 'store' | 'balancers'>): ReplicaDrains {
  const { balancers } = ctx;
  const mark = (tag: string, host: string, above: number) => ({ host, tag, version: null, above, until: '', reason: '' });
  return {
    held(tag, host, above) {
      const m = mark(tag, host, above);
      return balancers.view.poolRows().some((p) => balancers.view.desiredMembers(p.name).some((member) => covers(m, member)));
    },
    async drain(tag, host, above) {
      const timeoutMs = await drainTimeoutOf(ctx.store, host, tag);
      await balancers.drain({ host, tag, version: null, above, timeoutMs, reason: `scale to ${above} on ${host}` });
    },
    clear: (tag, host, above) => balancers.clear(host, tag, above),
  };
}
