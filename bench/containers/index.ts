/**
 * Containers against processes (issue 17): one real `noops server` and one real `noops agent`
 * on this machine, with the host's real Docker Engine. A job of N processes in one noops.yaml
 * (the same small HTTP app each, `port: auto`, `healthcheck: { http: /healthz }`, `start_grace: 1`) on one
 * host, the smallest honest set-up that gives N instances of one release, built twice: once
 * with `driver: process` and once with `driver: container`.
 *
 * 1. Deploy to healthy, N = 20: from the deploy call (POST /deployments) until every one of the
 *    N rows of `noops ps` (GET /instances) is up and healthy at the new version, and until the
 *    deployment says succeeded. Per round: a first deploy (nothing of the job on the host) and a
 *    second one of a new version (the old one running, the image there); the job is undeployed
 *    between rounds. The median of the rounds (3 in full mode).
 * 2. The agent's memory (RSS from /proc) with 50 processes, with 50 containers and with none:
 *    each with a freshly started agent, sampled every second through a steady state (60 s in
 *    full mode) once all are up and healthy.
 *
 * The address pool is a free /23 of 198.18.128.0/17 (`noops network set --per-host 24`): the
 * host gets its first /24. Everything the run made in the engine (its host's containers and
 * volumes, the network on its own subnet) is removed at its end, nothing else. It takes turns
 * with the containers e2e through its lock folder (both make the host's one network `noops`).
 *
 *   npm run bench -- --only containers [--quick]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { ApiClient, type InstanceView, showNetwork } from '../../src/api/index.js';
import { connectEngine } from '../../src/agent/containers/index.js';
import {
  cleanup,
  cli,
  commitFiles,
  freePort,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from '../../test/e2e/harness.js';
import { procUsage } from '../lib/procstat.js';
import { percentile, round, summarize } from '../lib/stats.js';
import {
  assertNetworkNameFree,
  BENCH_SPACE,
  engineSubnets,
  freeBlock,
  removeBenchObjects,
  runningContainers,
  takeEngineLock,
} from './engine.js';

const HOST = `ctrbench-${process.pid}`;
const DRIVERS = ['process', 'container'] as const;
type Driver = (typeof DRIVERS)[number];
const SIZES = {
  quick: { deployN: 5, memoryN: 10, rounds: 1, steadyMs: 5_000 },
  full: { deployN: 20, memoryN: 50, rounds: 3, steadyMs: 60_000 },
};
/** How long one deploy may take to be healthy before the run fails (a loaded 2-core machine). */
const HEALTHY_TIMEOUT_MS = 300_000;

const SERVER_JS = `
const http = require('http');
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version: process.env.NOOPS_VERSION }));
}).listen(Number(process.env.PORT), '0.0.0.0');
process.on('SIGTERM', () => process.exit(0));
`;

/** noops.yaml with `n` processes of the same app, on `driver`. */
export function noopsYaml(driver: Driver, n: number): string {
  const lines = [`driver: ${driver}`, 'processes:'];
  for (let i = 1; i <= n; i++)
    lines.push(
      `  w${String(i).padStart(2, '0')}:`,
      '    command: node server.js',
      '    port: auto',
      '    start_grace: 1',
      '    healthcheck: { http: /healthz }',
    );
  return `${lines.join('\n')}\n`;
}

const jobOf = (size: string, driver: Driver): string => `cop.bench_owt.ctr_pdl.noops_service.${size}_job.${driver}`;
const clusterOf = (job: string): string => `${job}_cluster.bench`;

/** One deploy: ms from the call to all healthy in `noops ps`, and to the deployment succeeded. */
export interface DeployTiming {
  healthyMs: number;
  succeededMs: number;
}

/** The agent's RSS through a steady state, MB. */
export interface MemoryFigures {
  instances: number;
  samples: number;
  p50Mb: number;
  maxMb: number;
}

export interface ContainersResults {
  host: string;
  pool: string;
  /** the subnet the server gave the host (its containers' addresses) */
  hostSubnet: string | null;
  instances: { deploy: number; memory: number };
  rounds: number;
  steadyS: number;
  /** per driver: each round's first deploy and second deploy (a new version) */
  deploy: Record<Driver, { first: DeployTiming[]; second: DeployTiming[] }>;
  /** per driver: median over the rounds, ms */
  deployMedian: Record<Driver, { firstHealthyMs: number; secondHealthyMs: number; firstSucceededMs: number; secondSucceededMs: number }>;
  memory: { none: MemoryFigures; process: MemoryFigures; container: MemoryFigures };
  /** the base image was on the host before the run (built by an earlier agent): a first deploy did not build it */
  baseImageBefore: boolean;
}

const ok = (r: { code: number; stdout: string; stderr: string }, what: string): void => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stdout}${r.stderr}`);
};
const say = (line: string): void => {
  process.stderr.write(`bench containers: ${line}\n`);
};
const median = (xs: number[]): number => round(percentile(xs, 50), 0);

/** Every one of the `n` rows of the cluster up and healthy at `version` (health absent counts as healthy). */
function allHealthy(rows: InstanceView[], n: number, version: string): boolean {
  const fresh = rows.filter((r) => r.version.startsWith(version) || version.startsWith(r.version));
  return fresh.length === n && fresh.every((r) => r.state === 'up' && (r.health === undefined || r.health === 'healthy'));
}

/** Runs the benchmark; answers the results (bench/run.ts writes them to bench/results/containers.json). */
export async function run(opts: { quick: boolean }): Promise<ContainersResults> {
  const docker: Dockerode = await connectEngine();
  const unlock = await takeEngineLock();
  try {
    return await runLocked(opts, docker);
  } finally {
    unlock();
  }
}

async function runLocked(opts: { quick: boolean }, docker: Dockerode): Promise<ContainersResults> {
  const size = opts.quick ? SIZES.quick : SIZES.full;
  const base = tmp('bench-containers');
  const root = join(base, 'agent');
  await assertNetworkNameFree(docker);
  const pool = freeBlock(BENCH_SPACE, 23, await engineSubnets(docker));
  if (pool === undefined) throw new Error(`no free /23 in ${BENCH_SPACE} on this engine`);
  const baseImageBefore = (await docker.listImages({ filters: { reference: ['noops-base'] } })).length > 0;
  let server: ServerProc | undefined;
  let agent: Proc | undefined;
  // the host's subnet: the pool's first /24 (it is the pool's only host)
  const hostSubnet = pool.replace(/\/23$/, '/24');
  try {
    server = await startServer(join(base, 'server'), await freePort());
    const srv = server;
    const api = new ApiClient(srv.url, srv.adminToken);
    ok(await cli(srv, ['network', 'set', '--pool', pool, '--per-host', '24']), 'network set');
    const startFreshAgent = async (): Promise<Proc> => {
      await agent?.stop();
      const a = startAgent(srv, root, HOST);
      await until('the host up', async () => (await api.hosts()).some((h) => h.name === HOST && h.status === 'up'), 60_000);
      return a;
    };
    agent = await startFreshAgent();

    // the releases: per driver, N processes for the deploys (two versions), M for the memory
    const releases = new Map<string, string[]>();
    const build = async (job: string, driver: Driver, n: number, versions: number): Promise<void> => {
      const repo = join(base, 'repos', job);
      const vs: string[] = [];
      for (let i = 1; i <= versions; i++) {
        const commit = commitFiles(repo, { 'noops.yaml': noopsYaml(driver, n), 'server.js': `// v${i}\n${SERVER_JS}` }, `v${i}`);
        ok(await cli(srv, ['build', '-u', repo, '-t', job, '-v', commit]), `build ${job} v${i}`);
        vs.push(commit.slice(0, 9));
      }
      ok(await cli(srv, ['cluster', 'set', '-t', clusterOf(job), '--hosts', HOST]), `cluster set ${job}`);
      releases.set(job, vs);
    };
    for (const d of DRIVERS) {
      await build(jobOf('deploy', d), d, size.deployN, 2);
      await build(jobOf('memory', d), d, size.memoryN, 1);
    }
    say(`built ${releases.size} jobs; pool ${pool}`);

    /** Deploys `version` of `tag` and times it; `n` instances expected. */
    const timedDeploy = async (tag: string, version: string, n: number): Promise<DeployTiming> => {
      const t0 = performance.now();
      const d = await api.deploy({ tag, version });
      let healthyMs: number | undefined;
      let succeededMs: number | undefined;
      await until(
        `${tag} ${version}: ${n} healthy and the deployment succeeded`,
        async () => {
          if (healthyMs === undefined && allHealthy(await api.instances(tag), n, version)) healthyMs = performance.now() - t0;
          if (succeededMs === undefined) {
            const status = (await api.deployment(d.id)).status;
            if (status === 'succeeded') succeededMs = performance.now() - t0;
            else if (status !== 'running') {
              const message = (await api.deployment(d.id)).message ?? '';
              const log = /see (\/\S+\.log)/.exec(message)?.[1];
              const tail = log && existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
              throw new Error(`the deployment ${d.id} ended ${status}: ${message}\n${tail}`);
            }
          }
          return healthyMs !== undefined && succeededMs !== undefined;
        },
        HEALTHY_TIMEOUT_MS,
        50,
      ).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${agent?.output().slice(-3000)}`)));
      return { healthyMs: round(healthyMs!, 0), succeededMs: round(succeededMs!, 0) };
    };
    /** Undeploys `tag` and waits until its instances and containers are gone. */
    const undeploy = async (tag: string): Promise<void> => {
      const d = await api.undeploy({ tag });
      await until(`${tag} undeployed`, async () => (await api.deployment(d.id)).status !== 'running', HEALTHY_TIMEOUT_MS, 200);
      await until(
        `${tag}'s instances gone`,
        async () => (await api.instances(tag)).length === 0 && (await runningContainers(docker, HOST, tag)) === 0,
        120_000,
        200,
      );
    };

    // 1. deploy to healthy
    const deploy = { process: { first: [], second: [] }, container: { first: [], second: [] } } as ContainersResults['deploy'];
    for (let round_ = 1; round_ <= size.rounds; round_++) {
      for (const d of DRIVERS) {
        const tag = clusterOf(jobOf('deploy', d));
        const [v1, v2] = releases.get(jobOf('deploy', d))!;
        const first = await timedDeploy(tag, v1!, size.deployN);
        const second = await timedDeploy(tag, v2!, size.deployN);
        deploy[d].first.push(first);
        deploy[d].second.push(second);
        say(
          `round ${round_}, ${size.deployN} instances, driver ${d}: first deploy healthy in ${first.healthyMs} ms (succeeded ${first.succeededMs}), second ${second.healthyMs} ms (${second.succeededMs})`,
        );
        await undeploy(tag);
      }
    }
    const deployMedian = Object.fromEntries(
      DRIVERS.map((d) => [
        d,
        {
          firstHealthyMs: median(deploy[d].first.map((t) => t.healthyMs)),
          secondHealthyMs: median(deploy[d].second.map((t) => t.healthyMs)),
          firstSucceededMs: median(deploy[d].first.map((t) => t.succeededMs)),
          secondSucceededMs: median(deploy[d].second.map((t) => t.succeededMs)),
        },
      ]),
    ) as ContainersResults['deployMedian'];

    // 2. the agent's memory: a fresh agent each time, then a steady state
    const steadyRss = async (instances: number): Promise<MemoryFigures> => {
      const pid = agent!.child.pid!;
      const mb: number[] = [];
      const end = Date.now() + size.steadyMs;
      while (Date.now() < end) {
        await sleep(1000);
        const u = procUsage(pid);
        if (u === undefined) throw new Error(`the agent (pid ${pid}) is gone: ${agent!.output().slice(-2000)}`);
        mb.push(u.rssBytes / 2 ** 20);
      }
      const s = summarize(mb);
      return { instances, samples: s.n, p50Mb: s.p50, maxMb: s.max };
    };
    agent = await startFreshAgent();
    const none = await steadyRss(0);
    say(`agent RSS with nothing: ${none.p50Mb} MB (max ${none.maxMb})`);
    const withN = {} as Record<Driver, MemoryFigures>;
    for (const d of DRIVERS) {
      agent = await startFreshAgent();
      const tag = clusterOf(jobOf('memory', d));
      const t = await timedDeploy(tag, releases.get(jobOf('memory', d))![0]!, size.memoryN);
      withN[d] = await steadyRss(size.memoryN);
      say(
        `agent RSS with ${size.memoryN} instances, driver ${d} (healthy in ${t.healthyMs} ms): ${withN[d].p50Mb} MB (max ${withN[d].maxMb})`,
      );
      await undeploy(tag);
    }

    return {
      host: HOST,
      pool,
      hostSubnet: (await showNetwork(api)).hosts.find((h) => h.host === HOST)?.subnet ?? null,
      instances: { deploy: size.deployN, memory: size.memoryN },
      rounds: size.rounds,
      steadyS: size.steadyMs / 1000,
      deploy,
      deployMedian,
      memory: { none, process: withN.process, container: withN.container },
      baseImageBefore,
    };
  } finally {
    await agent?.stop();
    await server?.stop();
    killSupervised(root);
    await removeBenchObjects(docker, HOST, hostSubnet).catch((err: Error) => say(`cleanup: ${err.message}`));
    cleanup([base]);
  }
}
