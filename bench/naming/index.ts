/**
 * A naming change reaching blocking watchers (issue 16): 1,000 blocking queries
 * (`GET /api/v1/naming/SELECTOR?index=N&wait=60s`, Consul's blocking queries) parked on a real
 * `noops server` (bin/noops), then one host's report turns an instance healthy (or unhealthy):
 * the time from that report until each watcher holds the new answer. Goal: p99 under 100 ms
 * (anchor: Consul propagates a change to 172,000 instances in under a second).
 *
 * The hosts are identities only (joined through the API; their reports posted as an agent posts
 * them, with its token), so no agent process shares the two cores. The watchers are spread over
 * three selectors (the cluster, the job, the service): each sees the change; and over
 * NOOPS_BENCH_NAMING_CLIENTS worker processes (watchers.ts, 2 by default: one per core), so that reading 1,000
 * answers is not one thread's queue and the figure is the server's.
 *
 *   npm run bench -- --only naming            # 100, 300 and 1,000 watchers, 10 changes each
 *   npm run bench -- --only naming --quick    # 100 watchers, 4 changes
 *   NOOPS_BENCH_NAMING_WATCHERS=1000 npm run bench -- --only naming --quick   # other counts (comma-separated)
 *   NOOPS_BENCH_NAMING_CLIENTS=1 ...                                          # watchers in 1 process (default 2)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { AgentReport, NamingAnswer, ProcessReport } from '../../src/api/index.js';
import { startServer, until } from '../lib/daemons.js';
import { procUsage, usageBetween } from '../lib/procstat.js';
import { round, summarize } from '../lib/stats.js';
import type { WatchersAnswered, WatchersAsk, WatchersInit } from './watchers.js';

/** The job whose instances change; the watchers ask for it at three levels of the tree. */
const JOB = 'cop.bench_owt.naming_pdl.web_service.hello_job.web';
const CLUSTER = `${JOB}_cluster.c1`;
const SELECTORS = [CLUSTER, JOB, 'cop=bench,service=hello'];
/** Hosts with a healthy instance that stays (the answers carry them too). */
const STEADY_HOSTS = 20;
/** What a watcher asks the server to wait at most: longer than any round. */
const WAIT = '60s';
/** A round whose answers have not all come within this is counted as missed. */
const ROUND_TIMEOUT_MS = 30_000;
/** The server's probe (wake-probe.mjs): its own timing of each wake, one JSON line each. */
const PROBE = new URL('./wake-probe.mjs', import.meta.url).pathname;

/** One wake as the server's probe timed it (absolute ms; cpuMs: the server's CPU from the report's arrival to the last write). */
interface ProbedWake {
  generation: number;
  woken: number;
  arrivedAt: number;
  startedAt: number;
  endedAt: number;
  cpuMs: number;
}

/** The server is settled (every watcher parked, nothing else running) under this share of a core, over a second. */
const IDLE_CORE_SHARE = 0.05;
const SETTLE_TIMEOUT_MS = 60_000;

interface Host {
  name: string;
  token: string;
}

/** What `npm run bench -- --only naming` records. */
export interface NamingResults {
  selectors: string[];
  /** endpoints in each answer besides the changing one (the steady hosts) */
  endpoints: number;
  /** one per count of watchers, the largest last */
  runs: NamingRun[];
  /** the worker processes the watchers were spread over */
  clients: number;
  goal: string;
  met: boolean;
}

function processOf(port: number, health: 'healthy' | 'unhealthy'): ProcessReport {
  return {
    tag: CLUSTER,
    process: 'web',
    version: 'v1',
    state: 'up',
    pid: 1000 + port,
    port,
    restarts: 0,
    startedAt: new Date().toISOString(),
    error: null,
    health,
    healthySince: health === 'healthy' ? new Date().toISOString() : null,
  };
}

async function post(url: string, token: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The probe's record of the newest wake after generation `after` (undefined: none, e.g. the probe did not load). */
function lastWake(s: Setup, after: number): ProbedWake | undefined {
  if (!existsSync(s.wakes)) return undefined;
  const lines = readFileSync(s.wakes, 'utf8').trim().split('\n').filter(Boolean);
  const wake = lines.length === 0 ? undefined : (JSON.parse(lines[lines.length - 1]!) as ProbedWake);
  return wake !== undefined && wake.generation > after ? wake : undefined;
}

/** The machine's 1-minute load average (the two cores are shared: every figure is read beside it). */
function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Resolves once `pid` used under IDLE_CORE_SHARE of a core over a second. */
async function untilIdle(pid: number): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = procUsage(pid)!;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = procUsage(pid)!;
    if (usageBetween(last, now).coreShare < IDLE_CORE_SHARE) return;
    last = now;
  }
  throw new Error(`the server did not settle within ${SETTLE_TIMEOUT_MS / 1000} s`);
}

/** What one count of watchers measured. */
export interface NamingRun {
  watchers: number;
  rounds: number;
  /** ms from the report until each watcher held the new answer, every round together */
  latencyMs: ReturnType<typeof summarize>;
  /** the same, per round; with the server's own timing of it (its probe): from the report's arrival to the last answer written, and its CPU in that time */
  perRound: {
    change: 'healthy' | 'unhealthy';
    p50: number;
    p99: number;
    max: number;
    answered: number;
    /** the report sent (the bench) to its arrival at the server (headers parsed) */
    sendToArrivalMs: number | null;
    /** the report's arrival to the last woken watcher's answer handed to its socket */
    arrivalToLastWriteMs: number | null;
    /** of which the wake (the view's loop over the parked watchers) */
    wakeMs: number | null;
    /** the server's CPU from the report's arrival to the last write */
    serverCpuToLastWriteMs: number | null;
  }[];
  /** the server alone, every round: the report's arrival to the last answer written (ms), and the server's CPU in that time (ms) */
  server: { arrivalToLastWriteMs: ReturnType<typeof summarize>; cpuToLastWriteMs: ReturnType<typeof summarize> };
  /** ms until the report itself was answered (the server wakes the watchers before it answers the report) */
  reportMs: ReturnType<typeof summarize>;
  /** watchers a round missed (not answered with the change within ROUND_TIMEOUT_MS) */
  missed: number;
  /** CPU ms per change: the server's (answering every watcher), and the watcher processes' together (reading the answers) */
  serverCpuMsPerChange: number;
  watcherCpuMsPerChange: number;
  /** the machine's 1-minute load average when this count started and ended */
  load: { start: number; end: number };
}

/** The server, its hosts, and the questions the watchers ask. */
interface Setup {
  server: Awaited<ReturnType<typeof startServer>>;
  /** the probe's file: one line per wake */
  wakes: string;
  pool: Pool;
  hosts: Host[];
  endpoints: number;
  report(h: Host, port: number, health: 'healthy' | 'unhealthy'): Promise<unknown>;
  ask(selector: string, index?: number): Promise<NamingAnswer>;
}

/** A worker process holding a share of the watchers. */
interface Client {
  child: ChildProcess;
  watchers: number;
  /** the next message of each type, in order */
  next(type: string): Promise<unknown>;
}

/** Forks `count` watcher processes sharing `watchers` between them; each answers 'ready' once set up. */
async function startClients(s: Setup, count: number, watchers: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let c = 0; c < count; c++) {
    const share = Math.floor(watchers / count) + (c < watchers % count ? 1 : 0);
    if (share === 0) continue;
    const child = fork(new URL('./watchers.ts', import.meta.url).pathname, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const queues = new Map<string, unknown[]>();
    const waiting = new Map<string, ((m: unknown) => void)[]>();
    child.on('message', (m: { type: string }) => {
      const w = waiting.get(m.type)?.shift();
      if (w) w(m);
      else queues.set(m.type, [...(queues.get(m.type) ?? []), m]);
    });
    const next = (type: string) =>
      new Promise<unknown>((resolve, reject) => {
        const queued = queues.get(type)?.shift();
        if (queued !== undefined) return resolve(queued);
        child.once('exit', (code) => reject(new Error(`a watcher process exited (${code}) before '${type}'`)));
        waiting.set(type, [...(waiting.get(type) ?? []), resolve]);
      });
    const init: WatchersInit = { type: 'init', url: s.server.url, token: s.server.adminToken, watchers: share, wait: WAIT };
    child.send(init);
    clients.push({ child, watchers: share, next });
  }
  await Promise.all(clients.map((c) => c.next('ready')));
  return clients;
}

function stopClients(clients: Client[]): Promise<void> {
  return Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.child.exitCode !== null) return resolve();
          const t = setTimeout(() => c.child.kill('SIGKILL'), 5000);
          c.child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.child.send({ type: 'stop' });
        }),
    ),
  ).then(() => undefined);
}

/** Every steady host reports (unchanged: wakes nobody), so that none goes down during a round. */
async function keepAlive(s: Setup): Promise<void> {
  for (const [i, h] of s.hosts.slice(0, STEADY_HOSTS).entries()) await s.report(h, 20_000 + i, 'healthy');
}

/** Parks `watchers` blocking queries (in `clientCount` processes), `rounds` times turns the changing host's instance healthy or unhealthy, and times the answers. */
async function measure(s: Setup, watchers: number, rounds: number, clientCount: number): Promise<NamingRun> {
  const changing = s.hosts[s.hosts.length - 1]!;
  let health: 'healthy' | 'unhealthy' = 'unhealthy';
  await s.report(changing, 30_000, health);
  const loadAtStart = loadAverage();
  const clients = await startClients(s, clientCount, watchers);
  const latencies: number[] = [];
  const reportTimes: number[] = [];
  const perRound: NamingRun['perRound'] = [];
  let missed = 0;
  let generation = -1;
  let serverCpuMs = 0;
  let watcherCpuMs = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      await keepAlive(s);
      // every watcher holds the index its selector answers now; its question parks on it
      const indexes = await Promise.all(
        SELECTORS.map(async (sel) => {
          const a = await s.ask(sel);
          if (a.endpoints.length !== s.endpoints + (health === 'healthy' ? 1 : 0))
            throw new Error(`${sel} answers ${a.endpoints.length} endpoints before round ${r + 1}`);
          return a.index;
        }),
      );
      health = health === 'healthy' ? 'unhealthy' : 'healthy';
      const ask: WatchersAsk = { type: 'ask', round: r, selectors: SELECTORS, indexes };
      const answered = clients.map((c) => c.next('answered') as Promise<WatchersAnswered>);
      for (const c of clients) c.child.send(ask);
      await Promise.all(clients.map((c) => c.next('sent')));
      await untilIdle(s.server.pid);
      for (const c of clients) c.child.send({ type: 'change' });
      const cpu0 = procUsage(s.server.pid)!;
      const t0 = performance.timeOrigin + performance.now();
      await s.report(changing, 30_000, health);
      reportTimes.push(performance.timeOrigin + performance.now() - t0);
      const wake = lastWake(s, generation);
      if (wake !== undefined) generation = wake.generation;
      const settled = await Promise.race([
        Promise.all(answered),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), ROUND_TIMEOUT_MS).unref()),
      ]);
      serverCpuMs += usageBetween(cpu0, procUsage(s.server.pid)!).cpuMs;
      if (settled === null) throw new Error(`round ${r + 1}: not every watcher answered within ${ROUND_TIMEOUT_MS} ms`);
      const got = settled.flatMap((a) => a.arrivals.filter((t) => !Number.isNaN(t)).map((t) => round(t - t0)));
      const failures = settled.flatMap((a) => a.failures);
      watcherCpuMs += settled.reduce((sum, a) => sum + a.cpuMs, 0);
      missed += watchers - got.length + failures.filter((f) => f.includes('unchanged')).length;
      latencies.push(...got);
      const sum = summarize(got);
      const timed = wake !== undefined && wake.woken === watchers;
      perRound.push({
        change: health,
        p50: sum.p50,
        p99: sum.p99,
        max: sum.max,
        answered: got.length,
        sendToArrivalMs: timed ? round(wake.arrivedAt - t0) : null,
        arrivalToLastWriteMs: timed ? round(wake.endedAt - wake.arrivedAt) : null,
        wakeMs: timed ? round(wake.endedAt - wake.startedAt) : null,
        serverCpuToLastWriteMs: timed ? round(wake.cpuMs) : null,
      });
      const last = perRound[perRound.length - 1]!;
      process.stderr.write(
        `bench: naming ${watchers} watchers, round ${r + 1}/${rounds} (${health}): p50 ${sum.p50} ms, p99 ${sum.p99} ms, max ${sum.max} ms, ${got.length} answered, report answered in ${round(reportTimes[reportTimes.length - 1]!)} ms; ` +
          `server: report sent to arrived ${last.sendToArrivalMs} ms, arrived to last write ${last.arrivalToLastWriteMs} ms (wake loop ${last.wakeMs} ms), CPU to last write ${last.serverCpuToLastWriteMs} ms; load ${loadAverage()}\n`,
      );
      if (failures.length > 0) throw new Error(`round ${r + 1}: ${failures.length} watcher(s) failed: ${failures[0]}`);
    }
  } finally {
    await stopClients(clients);
  }
  return {
    watchers,
    rounds,
    latencyMs: summarize(latencies),
    perRound,
    reportMs: summarize(reportTimes),
    server: {
      arrivalToLastWriteMs: summarize(perRound.flatMap((p) => (p.arrivalToLastWriteMs === null ? [] : [p.arrivalToLastWriteMs]))),
      cpuToLastWriteMs: summarize(perRound.flatMap((p) => (p.serverCpuToLastWriteMs === null ? [] : [p.serverCpuToLastWriteMs]))),
    },
    missed,
    serverCpuMsPerChange: round(serverCpuMs / rounds),
    watcherCpuMsPerChange: round(watcherCpuMs / rounds),
    load: { start: loadAtStart, end: loadAverage() },
  };
}

/** Starts the server, joins the hosts and waits until naming answers the steady ones. */
async function setUp(dir: string, connections: number): Promise<Setup> {
  const wakes = join(dir, 'wakes.jsonl');
  const server = await startServer(join(dir, 'server'), [], { env: { NOOPS_BENCH_NAMING_WAKES: wakes }, nodeArgs: ['--import', PROBE] });
  const pool = new Pool(server.url, { connections, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const hosts: Host[] = [];
  for (const name of [...Array.from({ length: STEADY_HOSTS }, (_, i) => `steady${i}`), 'changing']) {
    const joined = (await post(`${server.url}/api/v1/agent/join`, server.joinToken, { name })) as { token: string };
    hosts.push({ name, token: joined.token });
  }
  const s: Setup = {
    server,
    wakes,
    pool,
    hosts,
    endpoints: 0,
    report: (h, port, health) => {
      const body: AgentReport = { processes: [processOf(port, health)], failures: [], generation: 0 };
      return post(`${server.url}/api/v1/agent/report`, h.token, body);
    },
    ask: async (selector, index) => {
      const query = index === undefined ? '' : `?index=${index}&wait=${WAIT}`;
      const res = await pool.request({
        method: 'GET',
        path: `/api/v1/naming/${encodeURIComponent(selector)}${query}`,
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`naming ${selector}: ${res.statusCode} ${text}`);
      return JSON.parse(text) as NamingAnswer;
    },
  };
  await keepAlive(s);
  s.endpoints = await until(
    'the steady hosts in naming',
    async () => (await s.ask(CLUSTER)).endpoints.length === STEADY_HOSTS && STEADY_HOSTS,
    30_000,
  );
  return s;
}

export async function run(opts: { quick: boolean }): Promise<NamingResults> {
  const fromEnv = process.env.NOOPS_BENCH_NAMING_WATCHERS;
  const counts = fromEnv ? fromEnv.split(',').map(Number) : opts.quick ? [100] : [100, 300, 1000];
  const rounds = opts.quick ? 4 : 10;
  const clients = Number(process.env.NOOPS_BENCH_NAMING_CLIENTS ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'noops-bench-naming-'));
  const s = await setUp(dir, 16);
  try {
    const runs: NamingRun[] = [];
    for (const n of counts) runs.push(await measure(s, n, rounds, clients));
    const largest = runs[runs.length - 1]!;
    return {
      selectors: SELECTORS,
      endpoints: s.endpoints,
      runs,
      clients,
      goal: 'p99 < 100 ms from the report to each of 1,000 watchers holding the new answer',
      met: largest.watchers >= 1000 && largest.missed === 0 && largest.latencyMs.p99 < 100,
    };
  } finally {
    await s.pool.destroy().catch(() => undefined);
    await s.server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run({ quick: process.argv.includes('--quick') }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    },
  );
}
