/**
 * The load-balancer benchmark's figures for one change through one balancer, from what
 * observe.ts recorded: failed requests, when each new process was first served after it became
 * healthy, and when each old process was last served after it was drained.
 */
import type { InstanceView } from '../../src/api/index.js';
import { round } from '../lib/stats.js';
import type { CannonResult, Served, Transition } from './observe.js';

/** One process's join or leave, in ms (null: not observed). */
export interface Timing {
  process: string;
  ms: number | null;
}

/** The balancers measured: HAProxy (runtime API), nginx by file and reload, nginx through noops' Lua control API. */
export type BalancerKind = 'haproxy' | 'nginx' | 'nginx-api';

export interface ChangeFigures {
  balancer: BalancerKind;
  requests: number;
  /** requests per second achieved */
  rate: number;
  /** requests that got no answer (refused, reset, timed out) */
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  /** each new process: from its host's report that it is healthy (naming's answer) to its first request through the balancer */
  reportToServedMs: Timing[];
  /** each new process: from the same report to the balancer holding it ready (its own state, polled every 10 ms): noops' part of the join */
  reportToBalancerMs: Timing[];
  /** each old process: from noops marking it drain (the pool) to its last request through the balancer */
  markToLastMs: Timing[];
  /** the same from the balancer's own drain (haproxy's state, nginx's file, the Lua pool nginx holds) */
  drainToLastMs: Timing[];
  /** each new process: where the time of its join went (join-probe.mjs in the agents) */
  joinPath: JoinPath[];
}

/**
 * One join, cut in the segments of its path inside noops, in ms (null: not seen). From the
 * report that first carried the process healthy (`sent`) on:
 *   healthy ─► sent ─► answered (server took it)
 *                ├──► naming (observer)
 *                └──► index (the server moved the balancer host's index) ─► offer (its poll's answer
 *                     reached the agent) ─► apply (that pool's apply started) ─► ready (observer)
 */
export interface JoinPath {
  process: string;
  /**
   * the process counting as healthy (the later of its check's first success and its start grace's
   * end) → the report sent (the agent's pacing of reports)
   */
  healthyToSent: number | null;
  /** the report sent → the server's answer (it took the report) */
  sentToAnswered: number | null;
  /** the report sent → naming's answer held it (the observer's blocking query) */
  sentToNaming: number | null;
  /** the report sent → the server moved the balancer host's index with the member ready (and woke its poll) */
  sentToIndex: number | null;
  /** that move → the balancer host's agent had the poll's answer (the server's answer, the HTTP hop, the agent's parse) */
  indexToOffer: number | null;
  /** of which: that move → the server handed the poll's answer to its socket (its work after the wake: reads, the answer's JSON) */
  indexToAnswered: number | null;
  /** the report sent → the balancer host's agent had the poll's answer with the member ready */
  sentToOffer: number | null;
  /** that answer → its apply of this pool started (waiting for the pool's apply before it) */
  offerToApply: number | null;
  /** the apply started → the observer saw the balancer hold it ready (read every 10 ms) */
  applyToReady: number | null;
  /** the apply's own length */
  applyMs: number | null;
}

/** A line of join-probe.mjs's trace. */
export type TraceLine =
  | {
      kind: 'report';
      host: string;
      sentAt: number;
      answeredAt: number;
      processes: {
        port: number;
        pid: number | null;
        state: string;
        health?: string;
        healthySince?: string | null;
        startedAt?: string | null;
      }[];
    }
  | {
      kind: 'apply';
      pool: string;
      driver: string;
      index: number;
      offeredAt: number;
      startedAt: number;
      endedAt: number;
      periodic: boolean;
      ok: boolean;
      /** stopped before its end for a newer pool (src/agent/balancers/loop.ts): its commands until then were sent */
      cut?: boolean;
    }
  | {
      kind: 'index';
      host: string;
      index: number;
      at: number;
      members: [string, [number, string][]][];
    }
  | {
      /** a desired-state poll asked with `balancers=from` answered by the server (its last byte handed to the socket) */
      kind: 'answered';
      from: number;
      at: number;
    };

/** What the change recorded. */
export interface ChangeRecord {
  t0: number;
  before: InstanceView[];
  after: InstanceView[];
  served: Map<string, Served>;
  cannon: CannonResult;
  /** the balancer's own member states by port */
  balancer: Transition[];
  /** the pool's member states by port (what noops wants) */
  pool: Transition[];
  /** naming's endpoints as they appeared (`host:port:version`) */
  appeared: { at: number; endpoint: string }[];
  /** the agents' trace (join-probe.mjs), and the pool's name in it */
  trace: TraceLine[];
  poolName: string;
}

const READY = new Set(['ready']);

/** The first time at or after `t0` that `port` left ready in `transitions`. */
function leftReady(transitions: Transition[], port: number, t0: number): number | null {
  return transitions.find((x) => x.port === port && x.at >= t0 && !READY.has(x.state))?.at ?? null;
}

const label = (i: InstanceView): string => `${i.host}:${i.port}#${i.pid}`;
const servedOf = (r: ChangeRecord, i: InstanceView): Served | undefined => r.served.get(label(i));

/** The figures of one change through one balancer. */
export function figuresOf(balancer: BalancerKind, r: ChangeRecord): ChangeFigures {
  const beforePids = new Set(r.before.map((i) => i.pid));
  const afterPids = new Set(r.after.map((i) => i.pid));
  const joined = r.after.filter((i) => !beforePids.has(i.pid));
  const left = r.before.filter((i) => !afterPids.has(i.pid));
  const since = (from: number | null, to: number | undefined): number | null =>
    from === null || to === undefined ? null : round(to - from);
  return {
    balancer,
    requests: r.cannon.requests.total,
    rate: round(r.cannon.requests.average),
    errors: r.cannon.errors,
    timeouts: r.cannon.timeouts,
    non2xx: r.cannon.non2xx,
    statusCodes: Object.fromEntries(Object.entries(r.cannon.statusCodeStats).map(([code, s]) => [code, s.count])),
    latencyMs: { p50: r.cannon.latency.p50, p99: r.cannon.latency.p99, max: r.cannon.latency.max },
    reportToServedMs: joined.map((i) => {
      const appeared = r.appeared.filter((a) => a.endpoint === `${i.host}:${i.port}:${i.version}`).at(-1);
      return { process: label(i), ms: since(appeared?.at ?? null, servedOf(r, i)?.first) };
    }),
    reportToBalancerMs: joined.map((i) => ({ process: label(i), ms: since(appearedAt(r, i), readyAt(r, i)) })),
    markToLastMs: left.map((i) => ({ process: label(i), ms: since(leftReady(r.pool, i.port!, r.t0), servedOf(r, i)?.last) })),
    drainToLastMs: left.map((i) => ({ process: label(i), ms: since(leftReady(r.balancer, i.port!, r.t0), servedOf(r, i)?.last) })),
    joinPath: joined.map((i) => joinPathOf(r, i)),
  };
}

/** When naming's answer last gained the instance (its host's report made it healthy). */
function appearedAt(r: ChangeRecord, i: InstanceView): number | null {
  return r.appeared.filter((a) => a.endpoint === `${i.host}:${i.port}:${i.version}`).at(-1)?.at ?? null;
}

/** When the balancer was first seen holding the instance ready after it appeared in naming. */
function readyAt(r: ChangeRecord, i: InstanceView): number | undefined {
  const from = appearedAt(r, i);
  return from === null ? undefined : r.balancer.find((x) => x.port === i.port && x.state === 'ready' && x.at >= from - 1000)?.at;
}

/**
 * The start grace of the benchmark's app (`start_grace: 0.3` in test/e2e/balancers-app.ts): a
 * process is `up` that long after it started, and only then counts, however early its check passed.
 */
export const APP_START_GRACE_MS = 300;

/** When a process started at `startedAt` (ISO) went up: its start grace later (0 when unknown: the check's time stands). */
function upAt(startedAt: string | null | undefined): number {
  return startedAt ? Date.parse(startedAt) + APP_START_GRACE_MS : 0;
}

/** The segments of one join (see JoinPath), from the trace of the agents. */
export function joinPathOf(r: ChangeRecord, i: InstanceView): JoinPath {
  const ms = (from: number | null | undefined, to: number | null | undefined): number | null =>
    from === null || from === undefined || to === null || to === undefined ? null : round(to - from);
  // the report that turned it healthy (not healthy in the host's report before), the last before naming held it
  // naming's rule: up (alive for its start grace) and its check passing; either may come last
  const healthyIn = (t: Extract<TraceLine, { kind: 'report' }>) =>
    t.processes.find((p) => p.port === i.port && p.pid === i.pid && p.state === 'up' && p.health === 'healthy');
  // in the order sent (the trace is in the order answered: a heartbeat and a change's report may overlap)
  const reports = r.trace
    .filter((t): t is Extract<TraceLine, { kind: 'report' }> => t.kind === 'report' && t.host === i.host)
    .sort((a, b) => a.sentAt - b.sentAt);
  const turned = reports.filter((t, n) => healthyIn(t) !== undefined && (n === 0 || healthyIn(reports[n - 1]!) === undefined));
  const named = appearedAt(r, i);
  const report = turned.filter((t) => named === null || t.sentAt <= named).at(-1) ?? turned[0];
  const healthy = report && healthyIn(report);
  const healthyAt = healthy?.healthySince ? Math.max(Date.parse(healthy.healthySince), upAt(healthy.startedAt)) : null;
  const ready = readyAt(r, i);
  // the apply that made it ready: the last one of an offer after the report that started before it was seen ready
  const apply =
    report === undefined || ready === undefined
      ? undefined
      : r.trace
          .filter(
            (t): t is Extract<TraceLine, { kind: 'apply' }> =>
              t.kind === 'apply' && t.pool === r.poolName && !t.periodic && t.offeredAt >= report.sentAt && t.startedAt <= ready,
          )
          .at(-1);
  // the server's move of the balancer host's index that first held it ready in this pool, after the report
  const moved =
    report === undefined
      ? undefined
      : r.trace.find(
          (t): t is Extract<TraceLine, { kind: 'index' }> =>
            t.kind === 'index' &&
            t.at >= report.sentAt &&
            t.members.some(([pool, ms]) => pool === r.poolName && ms.some(([port, state]) => port === i.port && state === 'ready')),
        );
  // the balancer host's poll that the move woke: asked with the index before it, answered after it
  const previous =
    moved &&
    r.trace
      .filter((t): t is Extract<TraceLine, { kind: 'index' }> => t.kind === 'index' && t.host === moved.host && t.at < moved.at)
      .at(-1);
  const answered =
    previous &&
    r.trace.find(
      (t): t is Extract<TraceLine, { kind: 'answered' }> => t.kind === 'answered' && t.from === previous.index && t.at >= moved.at,
    );
  return {
    process: label(i),
    healthyToSent: ms(healthyAt, report?.sentAt),
    sentToAnswered: ms(report?.sentAt, report?.answeredAt),
    sentToNaming: ms(report?.sentAt, appearedAt(r, i)),
    sentToIndex: ms(report?.sentAt, moved?.at),
    indexToOffer: ms(moved?.at, apply?.offeredAt),
    indexToAnswered: ms(moved?.at, answered?.at),
    sentToOffer: ms(report?.sentAt, apply?.offeredAt),
    offerToApply: ms(apply?.offeredAt, apply?.startedAt),
    applyToReady: ms(apply?.startedAt, ready),
    applyMs: ms(apply?.startedAt, apply?.endedAt),
  };
}

/** The largest of some timings (null when none was observed). */
export function worst(ts: Timing[]): number | null {
  const ms = ts.map((t) => t.ms).filter((x): x is number => x !== null);
  return ms.length === 0 ? null : Math.max(...ms);
}
