/**
 * One simulated-fleet run: a fresh `noops server` (a copy of the seed), N simulated agents, and
 * in order: join, a first deploy, steady heartbeats, desired-state changes, then for each payload
 * a batched rollout and a rollback to the release before it (still on disk).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startSummary } from '../../src/api/index.js';
import { openFiles, procUsage, usageBetween } from '../lib/procstat.js';
import { round, summarize } from '../lib/stats.js';
import { measureDeploy, type DeployFigures } from './deploy.js';
import { desiredFanOut, pacedHeartbeats, readAgents, type FanOutFigures, type LeanAgent, type PacedFigures } from './load.js';
import { Fleet, workersFor } from './fleet.js';
import type { FleetPlan } from './plan.js';
import { leanFetch } from './lean-fetch.js';
import { clusterOf, startSeedServer, type Seed, type SeedRelease } from './seed.js';
import { tlsVariant } from './tls.js';

/** The agents' heartbeat period: the server's default, which the goals are stated for. */
export const HEARTBEAT_PERIOD_S = 5;
/** A deploy may take this long before the run fails: generous, a shared machine is slow... */
const BASE_TIMEOUT_MS = 120_000;
/** ...plus this much per host: 10,000 hosts report through one server (200 s more). */
const TIMEOUT_MS_PER_HOST = 20;
/** Plus this much per byte the server must send: 10 MB/s, ten times slower than measured. */
const TIMEOUT_MS_PER_BYTE = 1000 / (10 * 1024 * 1024);

export interface HeartbeatFigures {
  agents: number;
  periodS: number;
  windowS: number;
  heartbeats: number;
  perS: number;
  errors: number;
  /** client-side latency of POST /agent/report, ms */
  latencyMs: { n: number; p50: number; p99: number; max: number };
  /** the server's CPU over the window, in cores, and per heartbeat in µs */
  serverCores: number;
  serverCpuUsPerBeat: number;
  /** heartbeats a second one server core would take at that cost */
  ceilingPerCore: number;
  /** the fleet workers' CPU in cores, and their worst event loop delay (part of the latency) */
  fleetCores: number;
  fleetLoopDelayP99Ms: number;
}

/** A rollout of a payload release in batches, and the rollback after it. */
export interface RolloutFigures {
  mib: number;
  packageBytes: number;
  rollout: DeployFigures;
  rollback: DeployFigures;
  /**
   * the calls the server answered during the rollout, by method and route pattern (its own
   * /metrics before and after: the reads of /metrics left out), e.g. `POST /api/v1/agent/pieces/:sha256`
   */
  requests?: Record<string, number>;
}

export interface SimFigures {
  hosts: number;
  workers: number;
  join: { ms: number; serverCpuMs: number };
  firstDeploy: DeployFigures;
  heartbeats: HeartbeatFigures | null;
  propagation: DeployFigures[];
  /** back to the tiny release before the last desired-state change (on disk) */
  rollback: DeployFigures | null;
  rollouts: RolloutFigures[];
  /**
   * the warm-up: the first rollout of a package in pieces since the server and the workers
   * started (a release of the smallest payload's size, bytes of its own), before the measured
   * ones; null when there was none (no payload, or NOOPS_BENCH_FLEET_WARMUP=0)
   */
  warmUp?: RolloutFigures | null;
  /** the server alone under a lean generator's load (see load.ts), after the agents stopped */
  lean: { heartbeats: PacedFigures[]; fanOut: FanOutFigures | null };
  /** the server's RSS right after the last deploy ended */
  serverRssBytes: number;
  /**
   * the server's memory right after the last deploy, and again after `settleS` more seconds of
   * the agents' heartbeats (what the fleet holds once the deploys' garbage is collected);
   * absent when the plan did not wait (settleS 0)
   */
  serverMemory?: { settleS: number; afterDeploys: ServerMemory; settled: ServerMemory };
  /** the server's open files and memory before the agents joined, and with every agent connected (after the heartbeat window) */
  footprint?: { idle: Footprint; loaded: Footprint };
}

/** What a process holds: open files (/proc/PID/fd) and resident memory. */
export interface Footprint {
  fds: number;
  rssBytes: number;
}

/** The server's memory: its RSS (/proc) and V8's heap and buffers (its own /metrics). */
export interface ServerMemory {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** the RSS's anonymous part (heaps: V8's, the C library's) and its file-backed part (node's own code, mapped libraries) */
  rssAnonBytes?: number;
  rssFileBytes?: number;
  /** V8's heap by space: allocated and in use, in bytes */
  spaces?: Record<string, { totalBytes: number; usedBytes: number }>;
}

/** `nodejs_heap_space_size_{total,used}_bytes{space="..."}` of a /metrics text, by space. */
export function heapSpacesOf(text: string): Record<string, { totalBytes: number; usedBytes: number }> {
  const out: Record<string, { totalBytes: number; usedBytes: number }> = {};
  for (const m of text.matchAll(/^nodejs_heap_space_size_(total|used)_bytes\{space="([^"]+)"\} (\S+)$/gm)) {
    const space = (out[m[2]!] ??= { totalBytes: 0, usedBytes: 0 });
    if (m[1] === 'total') space.totalBytes = Number(m[3]);
    else space.usedBytes = Number(m[3]);
  }
  return out;
}

/** RssAnon and RssFile of /proc/PID/status, in bytes (nothing when it cannot be read). */
function rssParts(pid: number): { rssAnonBytes?: number; rssFileBytes?: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number | undefined => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { rssAnonBytes: kb('RssAnon'), rssFileBytes: kb('RssFile') };
  } catch {
    return {};
  }
}

/** The calls the server answered so far, by `METHOD route` (its /metrics' noops_http_requests_total, all statuses). */
async function requestCounts(server: { url: string; adminToken: string }): Promise<Map<string, number>> {
  const res = await leanFetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  if (!res.ok) throw new Error(`the server's /metrics answered ${res.status}: no request counts`);
  const counts = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^noops_http_requests_total\{method="([^"]+)",route="([^"]+)",status="[^"]*"\} (\S+)$/gm)) {
    const key = `${m[1]} ${m[2]}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[3]));
  }
  return counts;
}

/** What `after` counts more than `before` (the reads of /metrics left out), by key. */
function countsSince(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of after) {
    const more = n - (before.get(key) ?? 0);
    if (more > 0 && !key.endsWith(' /metrics')) out[key] = more;
  }
  return out;
}

/** Reads `ServerMemory` (NaN for a figure the server's /metrics does not have). */
async function serverMemory(server: { url: string; pid: number; adminToken: string }): Promise<ServerMemory> {
  const res = await leanFetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  const text = await res.text();
  const figure = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rssBytes: procUsage(server.pid)?.rssBytes ?? 0,
    ...rssParts(server.pid),
    heapUsedBytes: figure('nodejs_heap_used_bytes'),
    heapTotalBytes: figure('nodejs_heap_total_bytes'),
    externalBytes: figure('nodejs_external_memory_bytes'),
    spaces: heapSpacesOf(text),
  };
}

/** The server's footprint now (zeros when it is gone). */
function footprintOf(pid: number): Footprint {
  return { fds: openFiles(pid) ?? 0, rssBytes: procUsage(pid)?.rssBytes ?? 0 };
}

/** What one simulated run does (a plan, for one N). */
export interface SimSteps {
  heartbeatS: number;
  propagationRuns: number;
  /** payload sizes (MiB) to roll out, each followed by a rollback */
  rollouts: number[];
  /**
   * a warm-up rollout first (see `runSimulated`); false where the rollouts are compared with
   * real agents' (index.ts), which have none
   */
  warmUp?: boolean;
  batch: string;
  /** lean heartbeat loads, as multiples of N agents' rate (1 = every 5 s); [] for none */
  leanLoads: number[];
  /** measure the desired-state fan-out to N lean long polls */
  fanOut: boolean;
  /** seconds of each lean load (default: the simulated agents' heartbeat window, at least a period) */
  leanS?: number;
  /** seconds of heartbeats after the deploys before the server's memory is read again (0: not read) */
  settleS?: number;
}

/**
 * How long the agents go on heartbeating after the deploys of the largest fleet before the
 * server's memory is read again (`NOOPS_BENCH_FLEET_SETTLE_S`, default 30; 0: not).
 */
export const SETTLE_S = Number(process.env.NOOPS_BENCH_FLEET_SETTLE_S ?? 30);

/**
 * `NOOPS_BENCH_FLEET_ONLY=MODE`: each size runs the join, the first deploy, then one part of the
 * plan alone, minutes less per run (docs/benchmarks.md, "Parts alone"):
 * - `rollouts`: the warm-up and the package rollouts (each with its rollback);
 * - `fanout`: the server alone's fan-out to N parked polls (about 90 s at 10,000);
 * - `heartbeats`: the server alone's paced heartbeats at every lean load of the plan;
 * - `changes`: the desired-state changes to every simulated agent and the rollback to a release on disk.
 */
export const ONLY_MODES = ['rollouts', 'fanout', 'heartbeats', 'changes'] as const;
export type OnlyMode = (typeof ONLY_MODES)[number];

/** The mode `value` (NOOPS_BENCH_FLEET_ONLY) names (undefined: the whole plan); an unknown one is an error, not the whole plan. */
export function onlyMode(value: string | undefined): OnlyMode | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(ONLY_MODES as readonly string[]).includes(value))
    throw new Error(`NOOPS_BENCH_FLEET_ONLY=${value}: not one of ${ONLY_MODES.join(', ')}`);
  return value as OnlyMode;
}

/** The steps of `plan` for a fleet of `n`: all of them, or the part `only` names alone. */
export function stepsFor(plan: FleetPlan, n: number, only: OnlyMode | undefined): SimSteps {
  const rollouts = plan.rollouts.filter((r) => n <= r.maxHosts).map((r) => r.mib);
  const none = { heartbeatS: 0, propagationRuns: 0, rollouts: [], batch: plan.batch, leanLoads: [], fanOut: false };
  if (only === 'rollouts') return { ...none, rollouts };
  if (only === 'fanout') return { ...none, fanOut: true };
  if (only === 'changes') return { ...none, propagationRuns: plan.propagationRuns };
  if (only === 'heartbeats') return { ...none, leanLoads: plan.leanLoads, leanS: Math.max(plan.heartbeatS, HEARTBEAT_PERIOD_S) };
  return {
    heartbeatS: plan.heartbeatS,
    propagationRuns: plan.propagationRuns,
    rollouts,
    batch: plan.batch,
    leanLoads: n === Math.max(...plan.sizes) ? plan.leanLoads : plan.leanLoads.slice(0, 1),
    fanOut: plan.fanOut,
    settleS: n === Math.max(...plan.sizes) ? SETTLE_S : 0,
  };
}

export async function runSimulated(n: number, steps: SimSteps, seed: Seed, dir: string): Promise<SimFigures> {
  const server = await startSeedServer(seed, join(dir, 'server'), tlsVariant() ? ['--tls', 'auto'] : []);
  // the workers forked next, and the lean generator, pin this server's CA (tls.ts)
  if (server.caFile) process.env.NOOPS_BENCH_CA = server.caFile;
  const names = Array.from({ length: n }, (_, i) => `sim-${String(i + 1).padStart(5, '0')}`);
  const tag = clusterOf(`n${n}`);
  let fleet: Fleet | undefined;
  try {
    const idle = footprintOf(server.pid);
    const u0 = procUsage(server.pid)!;
    const t0 = Date.now();
    fleet = await Fleet.start({ server: server.url, joinToken: server.joinToken, names, dir });
    const joined = { ms: Date.now() - t0, serverCpuMs: usageBetween(u0, procUsage(server.pid)!).cpuMs };
    await server.api.setCluster({ tag, hosts: names });
    const f = fleet;
    const deploy = (release: SeedRelease, kind: 'deploy' | 'rollback', batch?: string): Promise<DeployFigures> =>
      measureDeploy({
        api: server.api,
        serverPid: server.pid,
        agentPids: () => f.pids(),
        watch: (t, v, ms) => f.watch(t, v, ms),
        tag,
        version: release.version,
        kind,
        batch,
        timeoutMs: BASE_TIMEOUT_MS + n * TIMEOUT_MS_PER_HOST + n * release.size * TIMEOUT_MS_PER_BYTE,
      });

    // The first deploy puts a release on every host (setup): every host at once.
    const firstDeploy = await deploy(seed.tinyA, 'deploy', '100%');
    const heartbeats = steps.heartbeatS > 0 ? await measureHeartbeats(fleet, server.pid, steps.heartbeatS) : null;
    // every agent holds its long poll and its heartbeat connection now
    const footprint = { idle, loaded: footprintOf(server.pid) };
    // A desired-state change reaching every agent: all hosts at once, tiny releases.
    const propagation: DeployFigures[] = [];
    let [current, before] = [seed.tinyA, seed.tinyB];
    for (let i = 0; i < steps.propagationRuns; i++) {
      [current, before] = [before, current];
      propagation.push(await deploy(current, 'deploy', '100%'));
    }
    // Rollback to the release before (on disk once a propagation run has replaced it).
    let rollback: DeployFigures | null = null;
    if (steps.propagationRuns > 0) {
      rollback = await deploy(before, 'rollback', '100%');
      [current, before] = [before, current];
    }
    // The warm-up (NOOPS_BENCH_FLEET_WARMUP=0: none): the first rollout of a package in pieces
    // since the server and the workers started costs a third more CPU than the next (their code
    // compiled as it first runs, the spare piece buffers made: docs/benchmarks.md, session 27).
    // A fleet's server and agents run for months, and each real agent warms up on its own host's
    // CPU, not on the two cores every simulated agent shares: the rollouts after it are the
    // figures. It is measured and shown, and judged by no goal.
    let warmUp: RolloutFigures | null = null;
    if (steps.rollouts.length > 0 && steps.warmUp !== false && seed.warmUp && process.env.NOOPS_BENCH_FLEET_WARMUP !== '0') {
      const rollout = await deploy(seed.warmUp, 'deploy', steps.batch);
      const back = await deploy(current, 'rollback', '100%');
      warmUp = { mib: seed.warmUp.mib, packageBytes: seed.warmUp.size, rollout, rollback: back };
    }
    const rollouts: SimFigures['rollouts'] = [];
    for (const mib of steps.rollouts) {
      const release = seed.payload[mib]!;
      const callsBefore = await requestCounts(server);
      const rollout = await deploy(release, 'deploy', steps.batch);
      const requests = countsSince(callsBefore, await requestCounts(server));
      const back = await deploy(current, 'rollback', '100%');
      rollouts.push({ mib, packageBytes: release.size, rollout, rollback: back, requests });
    }
    const serverRssBytes = procUsage(server.pid)?.rssBytes ?? 0;
    let serverMemoryFigures: SimFigures['serverMemory'];
    const settleS = steps.settleS ?? 0;
    if (settleS > 0) {
      const afterDeploys = await serverMemory(server);
      await new Promise((r) => setTimeout(r, settleS * 1000));
      serverMemoryFigures = { settleS, afterDeploys, settled: await serverMemory(server) };
      // NOOPS_BENCH_FLEET_HEAP_SNAPSHOT=1, with NOOPS_BENCH_SERVER_NODE_ARGS='--heapsnapshot-signal=SIGUSR2
      // --diagnostic-dir=DIR': a heap snapshot of what the server holds once settled (it stops the
      // server for seconds: the figures after it are not to be read)
      if (process.env.NOOPS_BENCH_FLEET_HEAP_SNAPSHOT === '1') process.kill(server.pid, 'SIGUSR2');
    }
    // The server alone: the agents stop (the server keeps their tokens) and a lean generator
    // plays their heartbeats, then holds their long polls for one more desired-state change.
    await fleet.stop();
    fleet = undefined;
    const agents = readAgents(join(dir, 'agents'), names);
    const report = (a: LeanAgent, i = Number(a.name.slice(4))): string =>
      JSON.stringify({
        processes: [
          {
            tag,
            process: 'app',
            version: current.version,
            state: 'up',
            pid: 10_000_000 + i,
            port: null,
            restarts: 0,
            startedAt: '2025-01-01T00:00:00.000Z',
            error: null,
          },
        ],
        failures: [],
        generation: 0,
      });
    const lean: SimFigures['lean'] = { heartbeats: [], fanOut: null };
    for (const k of steps.leanLoads) {
      lean.heartbeats.push(
        await pacedHeartbeats(
          server.url,
          server.pid,
          agents,
          report,
          (k * n) / HEARTBEAT_PERIOD_S,
          steps.leanS ?? Math.max(steps.heartbeatS, HEARTBEAT_PERIOD_S),
        ),
      );
    }
    if (steps.fanOut) {
      lean.fanOut = await desiredFanOut(
        server.url,
        server.pid,
        agents,
        before.version,
        () => startSummary(server.api, 'deploy', { tag, version: before.version, policy: { batch: '100%' } }),
        BASE_TIMEOUT_MS,
      );
    }
    return {
      hosts: n,
      workers: workersFor(n),
      join: joined,
      firstDeploy,
      heartbeats,
      propagation,
      rollback,
      warmUp,
      rollouts,
      lean,
      serverRssBytes,
      ...(serverMemoryFigures && { serverMemory: serverMemoryFigures }),
      footprint,
    };
  } finally {
    await fleet?.stop();
    await server.stop();
    rmSync(join(dir, 'server'), { recursive: true, force: true });
    rmSync(join(dir, 'agents'), { recursive: true, force: true });
  }
}

/** Steady heartbeats over a window: how many, how fast answered, at what cost to the server. */
export async function measureHeartbeats(fleet: Fleet, serverPid: number, seconds: number): Promise<HeartbeatFigures> {
  await fleet.window();
  const u0 = procUsage(serverPid)!;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const samples = await fleet.collect();
  const used = usageBetween(u0, procUsage(serverPid)!);
  const latencies = samples.flatMap((s) => s.report);
  const windowMs = Math.max(...samples.map((s) => s.ms));
  const perS = latencies.length / (windowMs / 1000);
  const serverCores = used.cpuMs / windowMs;
  return {
    agents: fleet.size,
    periodS: HEARTBEAT_PERIOD_S,
    windowS: round(windowMs / 1000),
    heartbeats: latencies.length,
    perS: round(perS),
    errors: samples.reduce((s, x) => s + x.reportErrors, 0),
    latencyMs: summarize(latencies),
    serverCores: round(serverCores, 2),
    serverCpuUsPerBeat: round((used.cpuMs * 1000) / Math.max(1, latencies.length), 0),
    ceilingPerCore: round(perS / Math.max(serverCores, 1e-6), 0),
    fleetCores: round(samples.reduce((s, x) => s + x.cpuMs, 0) / windowMs, 2),
    fleetLoopDelayP99Ms: round(Math.max(...samples.map((s) => s.loopDelayP99Ms))),
  };
}
