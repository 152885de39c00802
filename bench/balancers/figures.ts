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

/** What one balancer saw during one change. */
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
}

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
    reportToBalancerMs: joined.map((i) => {
      const appeared = r.appeared.filter((a) => a.endpoint === `${i.host}:${i.port}:${i.version}`).at(-1);
      const from = appeared?.at ?? null;
      const ready = from === null ? undefined : r.balancer.find((x) => x.port === i.port && x.state === 'ready' && x.at >= from - 1000);
      return { process: label(i), ms: since(from, ready?.at) };
    }),
    markToLastMs: left.map((i) => ({ process: label(i), ms: since(leftReady(r.pool, i.port!, r.t0), servedOf(r, i)?.last) })),
    drainToLastMs: left.map((i) => ({ process: label(i), ms: since(leftReady(r.balancer, i.port!, r.t0), servedOf(r, i)?.last) })),
  };
}

/** The largest of some timings (null when none was observed). */
export function worst(ts: Timing[]): number | null {
  const ms = ts.map((t) => t.ms).filter((x): x is number => x !== null);
  return ms.length === 0 ? null : Math.max(...ms);
}
