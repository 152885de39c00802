/**
 * What the load-balancer benchmark watches while a change goes: the load through each balancer
 * (autocannon at a fixed rate, every answer read: which process served it, first and last time),
 * what HAProxy holds (its runtime API, polled), what nginx's upstream file says (polled), the
 * members noops wants (the pool, polled through the API) and naming's healthy endpoints (a
 * blocking query: answered when a host's report makes an instance healthy). All times are this
 * machine's clock (Date.now()), in ms. The benchmark runs these in processes of their own
 * (processes.ts): the load in one per balancer, the observers in another, so that neither is
 * late because the other keeps its thread busy.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type ApiClient, type BalancerShow, resolveNames } from '../../src/api/index.js';
import type { AppAnswer } from '../../test/e2e/balancers-app.js';
import { haproxyCommand } from '../../test/e2e/balancers-harness.js';

/** The part of autocannon's result the benchmark reads. */
export interface CannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  duration: number;
  statusCodeStats: Record<string, { count: number }>;
}
type Cannon = Promise<CannonResult> & { stop(): void };
/** autocannon, loaded by the process that sends the load only (the observers' process never needs it). */
const autocannon = (opts: Record<string, unknown>): Cannon =>
  (createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Cannon)(opts);

/** How often the balancers' state and the pool are read. */
const POLL_MS = 10;
const POOL_POLL_MS = 50;

/** One process seen through a balancer: `host:port#pid`, its version, the first and last answers. */
export interface Served {
  key: string;
  host: string;
  port: number;
  pid: number;
  version: string;
  first: number;
  last: number;
  count: number;
}

/** Load through one balancer: autocannon at `rate` requests/s until `stop()`. */
export function load(url: string, rate: number, connections = 100): { served: Map<string, Served>; stop(): Promise<CannonResult> } {
  const served = new Map<string, Served>();
  const cannon = autocannon({
    url,
    connections,
    overallRate: rate,
    duration: 3600,
    timeout: 10,
    requests: [
      {
        method: 'GET',
        onResponse: (status: number, body: string) => {
          if (status < 200 || status > 299) return;
          const a = JSON.parse(body) as AppAnswer;
          const at = a.at; // when the process answered it (its own clock, this machine's): not when this busy thread read it
          const key = `${a.host}:${a.port}#${a.pid}`;
          const s = served.get(key);
          if (s) {
            s.first = Math.min(s.first, at);
            s.last = Math.max(s.last, at);
            s.count += 1;
          } else served.set(key, { key, host: a.host, port: a.port, pid: a.pid, version: a.version, first: at, last: at, count: 1 });
        },
      },
    ],
  });
  return {
    served,
    stop: async () => {
      cannon.stop();
      return await cannon;
    },
  };
}

/** A member's state as a balancer shows it, by port, with when it changed. */
export interface Transition {
  at: number;
  port: number;
  /** ready, drain, maint (haproxy), or down/absent */
  state: string;
}

/** Polls `read` every `everyMs`; records each port's state changes. */
function poller(read: () => Promise<Map<number, string>>, everyMs: number): { transitions: Transition[]; stop(): Promise<void> } {
  const transitions: Transition[] = [];
  const last = new Map<number, string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const now = await read();
        const at = Date.now();
        for (const [port, state] of now) if (last.get(port) !== state) transitions.push({ at, port, state });
        for (const port of last.keys()) if (!now.has(port) && last.get(port) !== 'absent') transitions.push({ at, port, state: 'absent' });
        last.clear();
        for (const [port, state] of now) last.set(port, state);
      } catch {
        // read again at the next turn (a file being replaced, a busy socket)
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    transitions,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** HAProxy's servers in `backend` by port: ready, drain or maint (its admin state's flags). */
export function watchHaproxy(socket: string, backend: string): ReturnType<typeof poller> {
  return poller(async () => {
    const out = new Map<number, string>();
    for (const line of (await haproxyCommand(socket, `show servers state ${backend}`)).split('\n')) {
      if (!/^\d+ /.test(line)) continue;
      const f = line.split(' ');
      const admin = Number(f[6]);
      out.set(Number(f[18]), admin & 0x01 || admin & 0x20 ? 'maint' : admin & 0x18 ? 'drain' : f[5] === '2' ? 'ready' : 'maint');
    }
    return out;
  }, POLL_MS);
}

/** nginx's upstream file by port: ready, or down (drain and maint). */
export function watchNginx(file: string): ReturnType<typeof poller> {
  return poller(async () => {
    const out = new Map<number, string>();
    for (const m of readFileSync(file, 'utf8').matchAll(/server 127\.0\.0\.1:(\d+)( down)?;/g)) {
      if (m[1] !== '1') out.set(Number(m[1]), m[2] ? 'down' : 'ready');
    }
    return out;
  }, POLL_MS);
}

/** What nginx's Lua pool holds (its control API, `GET /noops/pools/UPSTREAM`), by port: ready, drain or maint. */
export function watchNginxApi(api: string, upstream: string): ReturnType<typeof poller> {
  return poller(async () => {
    const res = await fetch(`http://${api}/noops/pools/${upstream}`);
    const pool = (await res.json()) as { members: { port: number; state: string }[] };
    return new Map(pool.members.map((m) => [m.port, m.state]));
  }, POLL_MS);
}

/** The members noops wants in a pool, by port: ready, drain or maint. */
export function watchPool(api: ApiClient, name: string): ReturnType<typeof poller> {
  return poller(async () => {
    const show = await api.request<BalancerShow>('GET', `/balancers/${encodeURIComponent(name)}`);
    return new Map(show.members.filter((m) => m.port !== null).map((m) => [m.port!, m.state]));
  }, POOL_POLL_MS);
}

/** When naming's answer for `selector` gained each `host:port:version` (the host's report made it healthy). */
export function watchNaming(api: ApiClient, selector: string): { appeared: { at: number; endpoint: string }[]; stop(): Promise<void> } {
  const appeared: { at: number; endpoint: string }[] = [];
  const left = new AbortController();
  const loop = (async () => {
    let answer = await resolveNames(api, selector);
    let known = new Set(answer.endpoints.map((e) => `${e.host}:${e.port}:${e.version}`));
    while (!left.signal.aborted) {
      try {
        answer = await resolveNames(api, selector, { index: answer.index, waitMs: 60_000, signal: left.signal });
      } catch {
        if (left.signal.aborted) return;
        continue;
      }
      const at = Date.now();
      const now = new Set(answer.endpoints.map((e) => `${e.host}:${e.port}:${e.version}`));
      for (const e of now) if (!known.has(e)) appeared.push({ at, endpoint: e });
      known = now;
    }
  })();
  return {
    appeared,
    stop: async () => {
      left.abort();
      await loop.catch(() => undefined);
    },
  };
}
