/**
 * Drain before stop, add after healthy: the waits on the balancers' reports.
 *
 *   drainAndWait: the pools holding a member of (host, tag, version) ──► a drain mark ──► each
 *     pool's host's index moves ──► its agent applies and reports ──► done when every such pool
 *     reported an index at or after the mark with those members `drain` (or gone) and their
 *     connections 0 (null: the driver cannot tell, applied is enough); the deadline passing with
 *     connections left goes on (the deadline is the user's choice). A pool whose agent did not
 *     follow the mark (its host down, `ok: false`, no report of that index by the deadline) fails.
 *   waitReady: done when every pool holding (host, tag, version) reports those members `ready`.
 */
import type { DesiredMember } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { covers } from './members.js';
import type { DrainMark } from './ports.js';
import type { Balancers } from './service.js';
import type { PoolView } from './view.js';

/** What to drain, and how long to wait for its connections. */
export interface DrainRequest {
  host: string;
  tag: string;
  /** the release draining (null: any: a restart) */
  version: string | null;
  /** only the replicas numbered above this (a lower count: the scheduler's; absent: every one) */
  above?: number;
  timeoutMs: number;
  /**
   * only the process instances running now (their pids, from the host's last report): a
   * restart's, so that its new process, another pid, joins the pools as soon as it is healthy,
   * before the mark is cleared (absent: every instance of the version)
   */
  running?: boolean;
  /** only this process's instances and its replicas (a restart of `--process web`; absent: every process) */
  process?: string;
  /** written in the mark: `deployment #12`, `restart #7` */
  reason: string;
  signal?: AbortSignal;
}

/** How a drain ended, per pool that held a member of it. */
export interface DrainOutcome {
  /** the mark written (undefined: no pool held a member, nothing was written) */
  mark?: DrainMark;
  pools: { name: string; host: string; connections: number | null; drained: boolean }[];
}

/** One pool being waited on. */
interface Pending {
  name: string;
  host: string;
  ids: Set<string>;
  /** the balancer host's seq just after the mark: a report of an index at or after it follows the mark */
  seq: number;
}

/**
 * Marks the members of (host, tag, version) to drain in every pool that holds one, and waits as
 * the file's comment says. Throws NOOPS_E_DRAIN_FAILED naming the pools that did not follow.
 */
export async function drainAndWait(balancers: Balancers, req: DrainRequest): Promise<DrainOutcome> {
  const view = balancers.view;
  const target = {
    host: req.host,
    tag: req.tag,
    version: req.version,
    ...(req.above !== undefined && { above: req.above }),
    ...(req.process !== undefined && { process: req.process }),
  };
  // after the mark, only the members it drains (a restart's spares a process already back new and healthy)
  const holding = (marked = false): Pending[] =>
    view.poolRows().flatMap((pool) => {
      const ids = view
        .desiredMembers(pool.name)
        .filter((m) => coveredBy(target, m) && (!marked || m.state === 'drain'))
        .map((m) => m.id);
      return ids.length === 0 ? [] : [{ name: pool.name, host: pool.host, ids: new Set(ids), seq: -1 }];
    });
  if (holding().length === 0) return { pools: [] }; // no pool holds it: nothing to write, nothing to wait for
  const markedAt = new Date().toISOString(); // before the mark: a report that follows it is received after this
  const pids = req.running ? view.runningPids(req.host, req.tag, req.process) : undefined;
  const mark = await balancers.mark({ ...target, ...(pids && { pids }), timeoutMs: req.timeoutMs, reason: req.reason });
  // the view took the mark: the members are `drain` now, and each balancer host's index moved
  const pending = holding(true).map((p) => ({ ...p, seq: view.seq(p.host) }));
  const outcome = new Map<string, { connections: number | null; drained: boolean }>();
  const check = (final: boolean): 'done' | 'waiting' => {
    const problems: string[] = [];
    let waiting = false;
    for (const p of pending) {
      const r = view.report(p.name);
      // received since the mark, of an index taken since (an index seen before may come back: the same pools again)
      const follows = r !== undefined && r.receivedAt >= markedAt && (view.seqOf(p.host, r.report.index) ?? -1) >= p.seq;
      if (r !== undefined && follows && !r.report.ok) {
        problems.push(`pool ${p.name} (host ${p.host}): its agent could not apply the drain: ${r.report.error ?? 'no reason given'}`);
        continue;
      }
      const held = follows ? r!.report.members.filter((m) => p.ids.has(m.id)) : [];
      const applied = follows && held.every((m) => m.state !== 'ready');
      const connections = held.some((m) => m.connections === null) ? null : held.reduce((n, m) => n + (m.connections ?? 0), 0);
      if (applied) outcome.set(p.name, { connections, drained: connections === null || connections === 0 });
      if (applied && (connections === null || connections === 0)) continue;
      if (!applied && !view.isLive(p.host)) {
        problems.push(`pool ${p.name}: its host ${p.host} is down, so its balancer cannot be told to drain`);
        continue;
      }
      if (final && !applied)
        problems.push(`pool ${p.name} (host ${p.host}): its agent did not report the drain within ${formatMs(req.timeoutMs)}`);
      waiting = true;
    }
    if (problems.length > 0)
      throw new NoopsError('NOOPS_E_DRAIN_FAILED', `draining ${req.host} (${req.tag}) failed: ${problems.join('; ')}`);
    return waiting ? 'waiting' : 'done';
  };
  try {
    await until(view, req.timeoutMs, req.signal, () => check(false) === 'done');
    check(true); // throws when a pool never followed the mark; connections left at the deadline: go on
  } catch (err) {
    // the host is not stopped: it takes traffic again (a balancer that heard the mark hears this too)
    await balancers.clear(req.host, req.tag, req.above, req.process).catch(() => undefined);
    throw err;
  }
  return {
    mark,
    pools: pending.map((p) => ({ name: p.name, host: p.host, ...(outcome.get(p.name) ?? { connections: null, drained: false }) })),
  };
}

/**
 * Waits until every pool holding a member of (host, tag, version) reports it `ready`, at most
 * `timeoutMs`; throws NOOPS_E_DRAIN_FAILED naming the pools that did not (the hook logs it).
 */
export async function waitReady(
  view: PoolView,
  req: { host: string; tag: string; version: string; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const target = { host: req.host, tag: req.tag, version: req.version };
  // per pool, the seq at which its desired state first had the members ready: a report before it may be of the old instance (same id)
  const since = new Map<string, number>();
  const late = (): string[] =>
    view.poolRows().flatMap((pool) => {
      const ids = view
        .desiredMembers(pool.name)
        .filter((m) => coveredBy(target, m))
        .map((m) => m.id);
      if (ids.length === 0) return [];
      if (!since.has(pool.name)) since.set(pool.name, view.seq(pool.host));
      const stored = view.report(pool.name);
      const r = stored?.report;
      if (r === undefined || (view.seqOf(pool.host, r.index) ?? -1) < since.get(pool.name)!) return [pool.name];
      const held = new Map(r.members.map((m) => [m.id, m.state]));
      return ids.every((id) => held.get(id) === 'ready') ? [] : [pool.name];
    });
  await until(view, req.timeoutMs, req.signal, () => late().length === 0);
  const left = late();
  if (left.length > 0)
    throw new NoopsError(
      'NOOPS_E_DRAIN_FAILED',
      `${req.host} (${req.tag}) runs ${req.version} healthily, but pool(s) ${left.join(', ')} did not report it ready within ${formatMs(req.timeoutMs)}`,
    );
}

/** Whether a member is one of (host, tag or beneath, version: null any, replicas above `above`): a mark's rule. */
function coveredBy(
  target: { host: string; tag: string; version: string | null; above?: number; process?: string },
  m: DesiredMember,
): boolean {
  return covers({ ...target, until: '', reason: '' }, m);
}

/** Resolves when `ok()` holds (checked now and at every change of the view), after `ms`, or when `signal` aborts; `ok` may throw. */
function until(view: PoolView, ms: number, signal: AbortSignal | undefined, ok: () => boolean): Promise<void> {
  if (ok() || signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (err?: unknown): void => {
      clearTimeout(timer);
      view.off('change', onChange);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onChange = (): void => {
      try {
        if (ok()) finish();
      } catch (err) {
        finish(err);
      }
    };
    const onAbort = (): void => finish();
    const timer = setTimeout(() => finish(), ms);
    view.on('change', onChange);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
