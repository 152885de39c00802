/**
 * The server alone, under load from a lean generator instead of the simulated agents: the same
 * requests the agents send (their tokens, their reports), from one process that does nothing
 * else, so that what is measured is the server and not the agents' own cost on the same two
 * cores. Two measurements:
 * - heartbeats paced as N agents send them (open loop: latency counts from when a request was
 *   due, so a slow server cannot hide its queue), at 1x, and for capacity 2x and 4x;
 * - desired-state fan-out: N long polls held open, one deploy, the time until every poll is
 *   answered with the new state.
 */
import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { mapLimit } from '../lib/limit.js';
import { poolFor, requestFor } from './tls.js';
import { RawConnection } from './raw-poll.js';
import { markPhase, monoUs } from '../lib/phases.js';
import { procUsage, usageBetween } from '../lib/procstat.js';
import { percentile, round, summarize } from '../lib/stats.js';

/** Connections the heartbeat generator keeps: many agents' connections, reused. */
const HEARTBEAT_SOCKETS = 256;
/** A request not answered within this is counted as an error. */
const REQUEST_TIMEOUT_MS = 30_000;
/** The server is "settled" (every long poll parked) when it used less than this share of a core for a second. */
const IDLE_CORE_SHARE = 0.05;

export interface LeanAgent {
  name: string;
  token: string;
}

/** The agents' identities, from their roots (ROOT/agent.json, written when they joined). */
export function readAgents(rootBase: string, names: string[]): LeanAgent[] {
  return names.map((name) => {
    const id = JSON.parse(readFileSync(join(rootBase, name, 'agent.json'), 'utf8')) as { token: string };
    return { name, token: id.token };
  });
}

function request(agent: http.Agent, url: string, token: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = requestFor(url)(url, { method, agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
    req.end(body);
  });
}

export interface PacedFigures {
  agents: number;
  /** requests a second asked for, and answered */
  rate: number;
  answeredPerS: number;
  sent: number;
  errors: number;
  /** ms from when each request was due to its answer */
  latencyMs: { n: number; p50: number; p99: number; max: number };
  serverCores: number;
  serverCpuUsPerBeat: number;
  /**
   * The generator's own event-loop delay, its longest (ms): a stall of the generator counts in
   * the latencies (they run from when a request was due), and this tells it from the server's.
   */
  generatorLoopMaxMs?: number;
  /** seconds into the window when the slowest answered request was due */
  slowestDueAtS?: number;
}

/**
 * Sends `rate` heartbeats a second for `seconds`, round robin over the agents, each with the
 * report `body(agent)`. One untimed round over every agent first, so the server has seen each
 * agent's report once (as in steady state, where a report that did not change writes nothing).
 */
export async function pacedHeartbeats(
  url: string,
  serverPid: number,
  agents: LeanAgent[],
  body: (a: LeanAgent) => string,
  rate: number,
  seconds: number,
): Promise<PacedFigures> {
  const pool = poolFor(url, { keepAlive: true, maxSockets: HEARTBEAT_SOCKETS, scheduling: 'lifo' });
  const target = `${url}/api/v1/agent/report`;
  try {
    await mapLimit(agents, HEARTBEAT_SOCKETS, (a) => request(pool, target, a.token, 'POST', body(a)));
    const total = Math.round(rate * seconds);
    const latencies: number[] = [];
    let errors = 0;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    let slowest = { ms: -1, dueAtMs: 0 };
    const u0 = procUsage(serverPid)!;
    loop.enable();
    const t0 = performance.now();
    const phase0 = monoUs();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; ) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      for (; i < due; i++) {
        const at = t0 + (i / rate) * 1000;
        const a = agents[i % agents.length]!;
        inflight.push(
          request(pool, target, a.token, 'POST', body(a)).then(
            (r) => {
              if (r.status !== 200) return void errors++;
              const ms = performance.now() - at;
              latencies.push(ms);
              if (ms > slowest.ms) slowest = { ms, dueAtMs: at - t0 };
            },
            () => {
              errors++;
            },
          ),
        );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inflight);
    const wallMs = performance.now() - t0;
    loop.disable();
    markPhase(`lean heartbeats at ${rate}/s`, phase0);
    const used = usageBetween(u0, procUsage(serverPid)!);
    return {
      agents: agents.length,
      rate,
      answeredPerS: round(latencies.length / (wallMs / 1000)),
      sent: total,
      errors,
      latencyMs: summarize(latencies),
      serverCores: round(used.cpuMs / wallMs, 2),
      serverCpuUsPerBeat: round((used.cpuMs * 1000) / Math.max(1, total), 0),
      generatorLoopMaxMs: round(loop.max / 1e6),
      slowestDueAtS: round(slowest.dueAtMs / 1000),
    };
  } finally {
    pool.destroy();
  }
}

export interface FanOutFigures {
  agents: number;
  /** ms from the deploy request until its answer, and until the first long poll was answered */
  callMs?: number;
  firstMs?: number;
  /** ms from the deploy request until half, and all, of the long polls were answered with it */
  p50Ms: number;
  allMs: number;
  answered: number;
  /** polls that failed (an HTTP error or a closed connection): neither answered nor parked again */
  failed?: number;
  /** answers that were not the change (before the deploy call, or with no newer generation: a long poll that ran out), their polls parked again */
  reparked?: number;
  serverCpuMs: number;
  /** the generator's own CPU (ms) from the deploy call to the last answer, and its longest loop delay: a busy generator is late to see answers */
  generatorCpuMs?: number;
  generatorLoopMaxMs?: number;
}

/**
 * Parks one long poll per agent (each on its own connection, as each agent has), waits until
 * the server is idle, then calls `trigger` (a deploy) and times the answers.
 */
export async function desiredFanOut(
  url: string,
  serverPid: number,
  agents: LeanAgent[],
  version: string,
  trigger: () => Promise<unknown>,
  timeoutMs: number,
): Promise<FanOutFigures> {
  const pool = poolFor(url, { keepAlive: true, maxSockets: Infinity });
  // plain HTTP: each agent's poll on a bare socket of its own (raw-poll.ts); https: node's client
  const target = new URL(url);
  const raw = target.protocol === 'http:' ? agents.map(() => new RawConnection(target.hostname, Number(target.port))) : undefined;
  const get = async (i: number, path: string): Promise<{ at: number; text: string }> => {
    if (raw) {
      const r = await raw[i]!.get(path, agents[i]!.token);
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
      return { at: r.at, text: r.body };
    }
    const r = await request(pool, `${url}${path}`, agents[i]!.token, 'GET');
    return { at: performance.now(), text: r.text };
  };
  try {
    const generations = await mapLimit(
      agents.map((_, i) => i),
      HEARTBEAT_SOCKETS,
      async (i) => (JSON.parse((await get(i, '/api/v1/agent/desired?after=-1')).text) as { generation: number }).generation,
    );
    let t0 = Infinity;
    // Each answer's arrival is noted as it ends, and checked (parsed) only after the last: the
    // generator's own parsing would otherwise delay the arrivals after it.
    const answers: { at: number; text: string }[] = [];
    let failed = 0;
    let reparked = 0;
    // A poll answered before the deploy call (its long poll, 25 s, ran out while the server
    // settled: a profiled server on PostgreSQL took that long), or after it with no newer
    // generation (it ran out as the call began), parks again, as an agent does.
    const poll = (i: number, after: number): Promise<void> =>
      get(i, `/api/v1/agent/desired?after=${after}`).then(
        (r) => {
          const generation = generationOf(r.text);
          if (t0 !== Infinity && generation > after) return void answers.push(r);
          reparked++;
          return poll(i, generation);
        },
        () => void failed++,
      );
    const polls = agents.map((_, i) => poll(i, (generations[i] as PromiseFulfilledResult<number>).value));
    await untilIdle(serverPid, timeoutMs);
    const u0 = procUsage(serverPid)!;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const g0 = process.cpuUsage();
    t0 = performance.now();
    const m0 = monoUs();
    await trigger();
    const callMs = performance.now() - t0;
    markPhase(`fan-out to ${agents.length} parked polls: the deploy call`, m0);
    const m1 = monoUs();
    await Promise.race([Promise.all(polls), new Promise((r) => setTimeout(r, timeoutMs))]);
    markPhase(`fan-out to ${agents.length} parked polls: after the call, until all answered`, m1);
    const used = usageBetween(u0, procUsage(serverPid)!);
    const g = process.cpuUsage(g0);
    loop.disable();
    const arrivals = answers
      .filter((x) => (JSON.parse(x.text) as { instances: { version: string }[] }).instances.some((i) => i.version === version))
      .map((x) => x.at);
    return {
      agents: agents.length,
      callMs: round(callMs),
      firstMs: arrivals.length > 0 ? round(Math.min(...arrivals) - t0) : NaN,
      generatorCpuMs: round((g.user + g.system) / 1000),
      generatorLoopMaxMs: round(loop.max / 1e6),
      p50Ms: round(percentile(arrivals, 50) - t0),
      allMs: arrivals.length === agents.length ? round(Math.max(...arrivals) - t0) : NaN,
      answered: arrivals.length,
      failed,
      reparked,
      serverCpuMs: used.cpuMs,
    };
  } finally {
    pool.destroy();
    for (const c of raw ?? []) c.close();
  }
}

/**
 * The generation of a desired-state answer without parsing it (the generator parses nothing while
 * it times the answers): the server writes it first, as `{"generation":N,...` (answerJson).
 */
export function generationOf(text: string): number {
  const head = '{"generation":';
  const end = text.indexOf(',', head.length);
  const n = text.startsWith(head) && end > 0 ? Number(text.slice(head.length, end)) : Number.NaN;
  return Number.isSafeInteger(n) ? n : (JSON.parse(text) as { generation: number }).generation;
}

/** Resolves once the server used under IDLE_CORE_SHARE of a core over a second. */
async function untilIdle(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = procUsage(pid)!;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = procUsage(pid)!;
    if (usageBetween(last, now).coreShare < IDLE_CORE_SHARE) return;
    last = now;
  }
  throw new Error(`the server did not settle within ${timeoutMs / 1000} s`);
}
