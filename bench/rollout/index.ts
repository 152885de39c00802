/**
 * Rollout and rollback time against the number of hosts, with a real server and real agents
 * (one `noops agent` process per host, each with its own root) on this machine.
 *
 * For each fleet size: deploy v1 everywhere (warm-up), then measure
 *   - rollout, all at once: v2 with `batch: 100%` (every host downloads the package)
 *   - rollout, in batches: v3 with `batch: 25%` (four batches, one after the other)
 *   - rollback: back to v2 with `batch: 100%` (on disk: no download)
 * each from the API call that starts it to the deployment's end.
 *
 *   node --import tsx bench/rollout/index.ts [--quick]     (results: bench/results/rollout.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/api/index.js';
import { cleanup, freePort, killSupervised, makeAppRepo, startAgent, startServer, tmp, until, type Proc } from '../../test/e2e/harness.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const RESULTS = join(HERE, '..', 'results', 'rollout.json');
const JOB = 'cop.bench_owt.ops_pdl.noops_service.bench_job.web';
const CLUSTER = `${JOB}_cluster.bench`;
/** Fleet sizes: real agent processes cost ~40 MB each, so 16 is what a 2-core CI machine holds. */
const SIZES = { quick: [4], full: [4, 8, 16] };
/** Agents report every second: the default is 5 s, but reports on change make it matter little. */
const HEARTBEAT_MS = 1000;

export interface RolloutRow {
  hosts: number;
  /** seconds */
  rolloutAllAtOnce: number;
  rolloutBatches25: number;
  rollback: number;
  /** every host skipped the download on rollback */
  rollbackWithoutDownload: boolean;
}

export interface RolloutResults {
  bench: 'rollout';
  at: string;
  machine: { cpus: number; node: string; loadavg: number[] };
  quick: boolean;
  rows: RolloutRow[];
}

/** Runs the benchmark; writes and answers the results. */
export async function run(opts: { quick: boolean }): Promise<RolloutResults> {
  const rows: RolloutRow[] = [];
  for (const n of opts.quick ? SIZES.quick : SIZES.full) rows.push(await fleetOf(n));
  const results: RolloutResults = {
    bench: 'rollout',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) },
    quick: opts.quick,
    rows,
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

async function fleetOf(n: number): Promise<RolloutRow> {
  const base = tmp(`bench-rollout-${n}`);
  const hosts = Array.from({ length: n }, (_, i) => `b${i + 1}`);
  const roots = hosts.map((h) => join(base, `agent-${h}`));
  const agents: Proc[] = [];
  const server = await startServer(join(base, 'server'), await freePort(), ['--heartbeat-ms', String(HEARTBEAT_MS)]);
  try {
    const api = new ApiClient(server.url, server.adminToken);
    hosts.forEach((h, i) => {
      agents.push(startAgent(server, roots[i]!, h));
    });
    await until(`${n} hosts up`, async () => (await api.hosts()).filter((h) => h.status === 'up').length === n, 120_000, 250);
    await api.setCluster({ tag: CLUSTER, hosts });
    const repo = makeAppRepo(join(base, 'repo'));
    const versions: string[] = [];
    for (const g of ['v1', 'v2', 'v3']) versions.push(await build(api, join(base, 'repo'), repo.commit(`hello ${g}`)));
    const [v1, v2, v3] = versions as [string, string, string];
    await timed(api, () => api.deploy({ tag: CLUSTER, version: v1, policy: { batch: '100%' } }));
    const all = await timed(api, () => api.deploy({ tag: CLUSTER, version: v2, policy: { batch: '100%' } }));
    const batched = await timed(api, () => api.deploy({ tag: CLUSTER, version: v3, policy: { batch: '25%' } }));
    const back = await timed(api, () => api.rollback({ tag: CLUSTER, to: v2, policy: { batch: '100%' } }));
    const row: RolloutRow = {
      hosts: n,
      rolloutAllAtOnce: all.seconds,
      rolloutBatches25: batched.seconds,
      rollback: back.seconds,
      rollbackWithoutDownload: Object.values(back.view.progress!.hosts).every((h) => h.downloaded === false),
    };
    process.stderr.write(`rollout bench: ${JSON.stringify(row)}\n`);
    return row;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await server.stop();
    roots.forEach(killSupervised);
    cleanup([base]);
  }
}

async function build(api: ApiClient, repo: string, commit: string): Promise<string> {
  const b = await api.startBuild({ repo, tag: JOB, ref: commit });
  const done = await until(
    'a build',
    async () => {
      const { build: x } = await api.build(b.id);
      return x.status !== 'running' && x;
    },
    300_000,
    200,
  );
  if (done.status !== 'succeeded') throw new Error(`build failed: ${JSON.stringify(done.error)}`);
  return done.version!;
}

/** Starts a deployment and waits for its end; its duration in seconds (to the millisecond). */
async function timed(api: ApiClient, start: () => Promise<import('../../src/api/index.js').DeploymentView>) {
  const t0 = performance.now();
  const d = await start();
  const view = await until(
    `deployment #${d.id}`,
    async () => {
      const x = await api.deployment(d.id);
      return x.status !== 'running' && x;
    },
    600_000,
    25,
  );
  const seconds = Math.round(performance.now() - t0) / 1000;
  if (view.status !== 'succeeded') throw new Error(`deployment #${d.id} ${view.status}: ${view.message}`);
  return { seconds, view };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
