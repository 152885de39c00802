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
 * NOOPS_BENCH_HEAPSNAPSHOT=DIR: the server writes a heap snapshot there at the end of the steady state.
 * Prints one line per 1,000 joins (ms per join) and the server's RSS, heap and file descriptors.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
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
const server = await startServer(
  join(base, 'data'),
  [],
  snapDir ? { nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapDir}`] } : {},
);
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

/** The parked poll, again and again, as an agent holds it. */
async function park(h: Host): Promise<void> {
  while (!stopping) {
    try {
      const r = await call(`/agent/desired?after=${h.generation}&commands=1`, h.token, 'GET');
      if (r.status === 200) h.generation = (r.json as { generation: number }).generation;
    } catch {
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
if (snapDir) {
  process.kill(server.pid, 'SIGUSR2');
  // a snapshot of a heap of hundreds of MB takes a while to write
  const before = readdirSync(snapDir).length;
  const deadline = Date.now() + 300_000;
  while (readdirSync(snapDir).length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 20_000));
  console.log(`heap snapshot in ${snapDir}`);
}
stopping = true;
await server.stop();
rmSync(base, { recursive: true, force: true });
process.exit(0);
