/**
 * What reading a large deployment costs the server (issue 19): a real `noops server` (bin/noops,
 * SQLite) whose store holds DEPLOYMENTS deployments of N hosts each, seeded directly (each host's
 * row as the rollout controller writes it; one deployment with failures), then each read asked
 * REPEATS times: the server's CPU (from /proc, per call), the bytes of one answer, and the wall
 * time per call. Whole deployments (what `noops history`, `noops deploy status` and the actions'
 * lookups read before) against summaries (what they read now).
 *
 *   npm run bench -- --only deploy-reads           # 10,000 hosts per deployment
 *   npm run bench -- --only deploy-reads --quick   # 1,000
 *   NOOPS_BENCH_READS_HOSTS=10000 NOOPS_BENCH_READS_DEPLOYMENTS=5 ...
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/open.js';
import { startServer } from '../lib/daemons.js';
import { procUsage } from '../lib/procstat.js';
import { hostNames, seedDeployment } from '../../test/e2e/seed-deployment.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const RESULTS = join(HERE, '..', 'results', 'deploy-reads.json');
const TAG = 'cop.bench_owt.reads_pdl.web_service.hello_job.web_cluster.c1';
const AT = '2026-12-04T12:00:00.000Z';
/** Calls of each kind: enough that /proc's 10 ms ticks are a small part of the CPU per call. */
const REPEATS = Number(process.env.NOOPS_BENCH_READS_REPEATS ?? 10);

export interface ReadRow {
  read: string;
  path: string;
  /** the server's CPU for the first call after its start (ms; nothing kept yet, the route's code not compiled yet) */
  firstCpuMs: number;
  /** the server's CPU per call after it (ms) */
  cpuMs: number;
  /** wall time per call after the first, as the client saw it (ms) */
  wallMs: number;
  bytes: number;
}

export interface DeployReadsResults {
  bench: 'deploy-reads';
  at: string;
  machine: { cpus: number; node: string; loadavg: number[] };
  hosts: number;
  deployments: number;
  rows: ReadRow[];
}

export async function run(opts: { quick: boolean }): Promise<DeployReadsResults> {
  const n = Number(process.env.NOOPS_BENCH_READS_HOSTS ?? (opts.quick ? 1000 : 10_000));
  const count = Number(process.env.NOOPS_BENCH_READS_DEPLOYMENTS ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'noops-bench-reads-'));
  try {
    // the server makes its database and the cluster's node, then stops while the deployments are written
    let server = await startServer(join(dir, 'server'));
    await server.api.setCluster({ tag: TAG, hosts: ['host-00000.rack0.example.com'] });
    await server.stop();
    const store = await openStore(`sqlite:${join(dir, 'server', 'noops.db')}`);
    const ids: number[] = [];
    for (let k = 0; k < count; k++)
      ids.push(await seedDeployment(store, { tag: TAG, hosts: hostNames(n), failures: k === count - 1 ? 100 : 0, at: AT, logLines: 20 }));
    await store.close();
    const newest = ids[ids.length - 1]!;
    const tag = encodeURIComponent(TAG);
    const reads: [string, string][] = [
      [`history, ${count} deployments, whole (before: noops history)`, `/history?tag=${tag}`],
      [`history, ${count} deployments, ?view=summary (now)`, `/history?tag=${tag}&view=summary`],
      ['the newest deployment, whole (before: deploy status, the actions)', `/history?tag=${tag}&limit=1`],
      ['the newest deployment, ?view=summary (now)', `/history?tag=${tag}&limit=1&view=summary`],
      ['a deployment, whole', `/deployments/${newest}`],
      ['its summary (head and counts; 100 failures listed)', `/deployments/${newest}/summary`],
    ];
    const rows: ReadRow[] = [];
    for (const [read, path] of reads) {
      // a server of its own for each read: its first call finds nothing kept
      server = await startServer(join(dir, 'server'));
      try {
        const url = `${server.url}/api/v1${path}`;
        const headers = { authorization: `Bearer ${server.adminToken}` };
        const call = async (): Promise<number> => {
          const res = await fetch(url, { headers });
          if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
          return (await res.arrayBuffer()).byteLength;
        };
        const start = procUsage(server.child.pid!)!;
        const bytes = await call();
        const before = procUsage(server.child.pid!)!;
        const started = performance.now();
        for (let i = 0; i < REPEATS; i++) await call();
        const wallMs = (performance.now() - started) / REPEATS;
        const after = procUsage(server.child.pid!)!;
        rows.push({
          read,
          path,
          firstCpuMs: round(before.cpuMs - start.cpuMs),
          cpuMs: round((after.cpuMs - before.cpuMs) / REPEATS),
          wallMs: round(wallMs),
          bytes,
        });
      } finally {
        await server.stop();
      }
    }
    const results: DeployReadsResults = {
      bench: 'deploy-reads',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, loadavg: loadavg().map((x) => round(x)) },
      hosts: n,
      deployments: count,
      rows,
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    for (const r of rows)
      console.log(`${r.read}: first ${r.firstCpuMs} ms CPU; then ${r.cpuMs} ms CPU, ${r.wallMs} ms wall; ${r.bytes} bytes`);
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ quick: process.argv.includes('--quick') });
