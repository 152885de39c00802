/**
 * The join and the steady state of N agents, alone (issue 19): starts a real `bin/noops server`
 * and, from this one process, joins N hosts through the real agent protocol as the simulated
 * agents do (POST /agent/join, a first POST /agent/report, then a parked GET /agent/desired),
 * then keeps them heartbeating every 5 s for a while. No deploys, no fleet workers: what a join
 * and a heartbeat cost the server as N grows, and what the server holds for N parked agents.
 *
 *   node --import tsx bench/fleet/join-only.ts [N=1000] [STEADY_S=30]
 *
 * NOOPS_BENCH_PROFILE=DIR: the server writes a CPU profile there (bench/lib/daemons.ts).
 * NOOPS_BENCH_HEAPSNAPSHOT=DIR: the server writes a heap snapshot there at the end of the steady state
 * (bench/fleet/heap-summary.ts reads it; two, at 2,000 and 4,000 agents, say what one agent costs).
 * NOOPS_BENCH_SERVER_NODE_ARGS="--flag ...": more node flags for the server (V8's heap settings).
 * Prints one line per 1,000 joins (ms per join) and the server's RSS, heap and file descriptors,
 * then its memory before and after a forced GC (bench/fleet/gc-probe.mjs, loaded into the server
 * for the bench only): what it retains, and what was garbage not yet collected.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startServer } from '../lib/daemons.js';
import { mapLimit } from '../lib/limit.js';
import { procUsage } from '../lib/procstat.js';
import { percentile } from '../lib/stats.js';
import { leanFetch } from './lean-fetch.js';

/** As the fleet workers join (worker.ts): 32 in flight. */
const JOIN_CONCURRENCY = 32;
/** The agents' heartbeat, as the server's default. */
const HEARTBEAT_MS = 5_000;
/** Joins per line of the report. */
const STEP = 1_000;

const n = Number(process.argv[2] ?? 1000);
const steadyS = Number(process.argv[3] ?? 30);
const base = mkdtempSync(join(tmpdir(), 'noops-join-only-'));
const snapDir = process.env.NOOPS_BENCH_HEAPSNAPSHOT;
const gcOut = join(base, 'gc.jsonl');
/** Starts of the server tried: on a machine where other benches hold tens of thousands of
 * connections, the free port found may be taken as some connection's local port before the
 * server listens on it (EADDRINUSE). */
const START_TRIES = 5;
async function start(): Promise<Awaited<ReturnType<typeof startServer>>> {
  for (let i = 1; ; i++) {
    try {
      return await startServer(join(base, 'data'), [], {
        env: { NOOPS_BENCH_GC_OUT: gcOut },
        nodeArgs: [
          '--expose-gc',
          '--import',
          pathToFileURL(join(import.meta.dirname, 'gc-probe.mjs')).href,
          ...(process.env.NOOPS_BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
          ...(snapDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapDir}`] : []),
        ],
      });
    } catch (err) {
      if (i >= START_TRIES || !(err as Error).message.includes('EADDRINUSE')) throw err;
      console.log(`the server's port was taken before it listened (try ${i}): again`);
    }
  }
}
const server = await start();
let stopping = false;

interface Host {
  name: string;
  token: string;
  generation: number;
}

async function call(path: string, token: string, method: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await leanFetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const REPORT = { processes: [], failures: [], generation: 0 };
const reportMs: number[] = [];

async function report(h: Host): Promise<void> {
  const t0 = performance.now();
  const r = await call('/agent/report', h.token, 'POST', { ...REPORT, generation: h.generation });
  if (r.status !== 200) throw new Error(`report ${h.name}: ${r.status} ${JSON.stringify(r.json)}`);
  reportMs.push(performance.now() - t0);
}

/** Polls sent and not answered yet: parked on the server, or on their way (a loaded client lags). */
let polling = 0;

/** The parked poll, again and again, as an agent holds it. */
async function park(h: Host): Promise<void> {
  while (!stopping) {
    polling++;
    try {
      const r = await call(`/agent/desired?after=${h.generation}&commands=1`, h.token, 'GET');
      polling--;
      if (r.status === 200) h.generation = (r.json as { generation: number }).generation;
    } catch {
      polling--;
      if (!stopping) await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const hosts: Host[] = [];
const names = Array.from({ length: n }, (_, i) => `sim${String(i).padStart(5, '0')}`);
const fds = (): number => readdirSync(`/proc/${server.pid}/fd`).length;
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const status = (): Record<string, number> => {
  const s = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) / 1024;
  return { rssMB: kb('VmRSS'), hwmMB: kb('VmHWM') };
};
console.log(
  `server pid ${server.pid} ${server.url}; rss ${status().rssMB.toFixed(0)} MB, fds ${fds()} before joining ${n} (load ${load()})`,
);
const t0 = performance.now();
let tStep = t0;
let cpuStep = procUsage(server.pid)!.cpuMs;
/** joins done (joined and reported once), and at the last line printed */
let done = 0;
let doneStep = 0;
await mapLimit(names, JOIN_CONCURRENCY, async (name) => {
  const r = await call('/agent/join', server.joinToken, 'POST', { name, labels: { sim: 'yes' } });
  if (r.status !== 200) throw new Error(`join ${name}: ${r.status} ${JSON.stringify(r.json)}`);
  const h: Host = { name, token: (r.json as { token: string }).token, generation: 0 };
  hosts.push(h);
  await report(h);
  void park(h);
  done++;
  if (done % STEP === 0 || done === n) {
    const now = performance.now();
    const cpu = procUsage(server.pid)!.cpuMs;
    const k = done - doneStep;
    doneStep = done;
    console.log(
      `joined ${done}: ${((now - tStep) / k).toFixed(2)} ms/join wall, ${((cpu - cpuStep) / k).toFixed(2)} ms/join server CPU; rss ${status().rssMB.toFixed(0)} MB, fds ${fds()} (load ${load()})`,
    );
    tStep = now;
    cpuStep = cpu;
  }
});
const joinS = (performance.now() - t0) / 1000;
console.log(`join of ${hosts.length}: ${joinS.toFixed(1)} s; rss ${status().rssMB.toFixed(0)} MB (load ${load()})`);

// Steady state: every host reports every 5 s, spread over the period; the polls stay parked.
reportMs.length = 0;
const cpu0 = procUsage(server.pid)!.cpuMs;
const s0 = performance.now();
const beats = hosts.map((h, i) =>
  (async () => {
    await new Promise((r) => setTimeout(r, (i / hosts.length) * HEARTBEAT_MS));
    while (performance.now() - s0 < steadyS * 1000) {
      const t = performance.now();
      await report(h).catch(() => {});
      await new Promise((r) => setTimeout(r, Math.max(0, HEARTBEAT_MS - (performance.now() - t))));
    }
  })(),
);
await Promise.all(beats);
const cpu = procUsage(server.pid)!.cpuMs - cpu0;
const wall = performance.now() - s0;
const st = status();
console.log(
  `steady ${steadyS} s: ${reportMs.length} reports, p50 ${percentile(reportMs, 50).toFixed(1)} ms, p99 ${percentile(reportMs, 99).toFixed(1)} ms; server ${((100 * cpu) / wall).toFixed(0)}% of a core, ${(cpu / reportMs.length).toFixed(2)} ms CPU/report`,
);
console.log(`server rss ${st.rssMB.toFixed(0)} MB (peak ${st.hwmMB.toFixed(0)} MB), fds ${fds()} (load ${load()})`);
// What the RSS is: V8's heap in use (the server's own /metrics), and anonymous memory against mapped files.
const metrics = await (await leanFetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).text();
const heapUsed = Number(/^nodejs_heap_used_bytes (\S+)/m.exec(metrics)?.[1] ?? Number.NaN) / 2 ** 20;
const smaps = readFileSync(`/proc/${server.pid}/smaps_rollup`, 'utf8');
const smapsMB = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(smaps)?.[1] ?? 0) / 1024;
console.log(
  `server heap used ${heapUsed.toFixed(0)} MB; rss anonymous ${smapsMB('Anonymous').toFixed(0)} MB, file-backed ${(smapsMB('Rss') - smapsMB('Anonymous')).toFixed(0)} MB`,
);
/** The server's memory before and after a forced full GC (gc-probe.mjs), and its RSS then. */
async function forcedGc(when: string): Promise<void> {
  const lines = (): string[] => {
    try {
      return readFileSync(gcOut, 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const had = lines().length;
  process.kill(server.pid, 'SIGWINCH');
  const deadline = Date.now() + 60_000;
  while (lines().length === had && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const got = lines()[had];
  if (got === undefined) return void console.log(`${when}: no answer from the GC probe`);
  const m = JSON.parse(got) as { before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage };
  const f = (u: NodeJS.MemoryUsage): string =>
    `rss ${(u.rss / 2 ** 20).toFixed(0)}, heap used ${(u.heapUsed / 2 ** 20).toFixed(0)} of ${(u.heapTotal / 2 ** 20).toFixed(0)}, external ${(u.external / 2 ** 20).toFixed(0)}, arrayBuffers ${(u.arrayBuffers / 2 ** 20).toFixed(0)}`;
  console.log(`${when}, MB: before a forced GC ${f(m.before)}; after ${f(m.after)}; rss then ${status().rssMB.toFixed(0)}`);
}
// Measured with every poll parked (each agent's poll is answered every 25 s and sent again at
// once; a client slowed by a loaded machine may lag), and 2 s for the server to take them in.
const parkDeadline = Date.now() + 60_000;
while (polling < hosts.length && Date.now() < parkDeadline) await new Promise((r) => setTimeout(r, 100));
await new Promise((r) => setTimeout(r, 2_000));
console.log(`${polling} of ${hosts.length} polls sent and not answered`);
await forcedGc(`forced GC at ${hosts.length} agents`);

if (snapDir) {
  process.kill(server.pid, 'SIGUSR2');
  // a snapshot of a heap of hundreds of MB takes a while to write: done when its file stops growing
  const before = readdirSync(snapDir).length;
  const deadline = Date.now() + 600_000;
  let size = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const files = readdirSync(snapDir);
    if (files.length === before) continue;
    const now = statSync(join(snapDir, files.sort().at(-1)!)).size;
    if (now !== size) [size, stableSince] = [now, Date.now()];
    else if (size > 0 && Date.now() - stableSince >= 5_000) break;
  }
  console.log(`heap snapshot in ${snapDir}`);
}
stopping = true;
await server.stop();
rmSync(base, { recursive: true, force: true });
process.exit(0);
