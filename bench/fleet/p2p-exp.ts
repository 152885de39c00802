/**
 * A small peer-to-peer rollout, in one process: a real server, N simulated agents (the real
 * Agent, MemoryReleases, each serving pieces on its own port), a 10 MB release of random bytes
 * deployed in 10% batches; prints each host's download (bytes from peers and from the server),
 * the rollout's time and what the server seeded. NOOPS_SWARM_DEBUG=1 logs every piece.
 *
 *   N=200 LEAN=1 node --import tsx bench/fleet/p2p-exp.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/index.js';
import { ApiClient } from '../../src/api/index.js';
import { startServer } from '../../src/server/index.js';
import { MemoryReleases, SharedPackages } from './sim-releases.js';
import { SimSupervisor } from './sim-supervisor.js';
import { leanFetch } from './lean-fetch.js';
if (process.env.LEAN) globalThis.fetch = leanFetch as typeof fetch;
const N = Number(process.env.N ?? 40);
const JOB = 'cop.bench_owt.fleet_pdl.sim_service.app_job.app';
const CLUSTER = `${JOB}_cluster.test`;
const dir = mkdtempSync(join(tmpdir(), 'p2p-exp-'));
const server = await startServer({ dataDir: join(dir, 'server'), listen: '127.0.0.1:0', heartbeatMs: 2000, log: () => {} });
const api = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
const repo = join(dir, 'repo');
execFileSync('mkdir', ['-p', repo]);
const git = (...a: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd: repo, encoding: 'utf8' }).trim();
git('init', '-q');
writeFileSync(join(repo, 'noops.yaml'), `processes:\n  app:\n    command: exec sleep 100\n    port: null\n    start_grace: 0.1\n`);
writeFileSync(join(repo, 'blob'), randomBytes(10 * 1024 * 1024));
git('add', '-A');
git('commit', '-q', '-m', 'x');
const b = await api.startBuild({ repo, tag: JOB, ref: git('rev-parse', 'HEAD') });
let v = '';
for (;;) {
  const { build } = await api.build(b.id, 0);
  if (build.status !== 'running') {
    v = build.version!;
    break;
  }
  await new Promise((r) => setTimeout(r, 300));
}
const shared = new SharedPackages();
const joinToken = readFileSync(server.joinTokenFile, 'utf8').trim();
const agents: Agent[] = [];
const t0 = Date.now();
for (let i = 0; i < N; i++) {
  const name = `s${i}`;
  const a = new Agent({
    server: server.url,
    joinToken,
    root: join(dir, 'agents', name),
    name,
    labels: { rack: `r${i % 4}` },
    log: (l) => {
      if (/package|cannot|failed|dbg/.test(l)) console.log(((Date.now() - t0) / 1000).toFixed(2), name, l);
    },
    host: { supervisor: new SimSupervisor(), releases: new MemoryReleases(undefined, shared) },
    ctl: false,
    peerListen: '127.0.0.1:0',
  });
  await a.start();
  agents.push(a);
}
await api.setCluster({ tag: CLUSTER, hosts: agents.map((a) => a.name) });
const d0 = Date.now();
console.log('deploy start');
const { id } = await api.deploy({ tag: CLUSTER, version: v, policy: { batch: '10%' } } as never);
for (;;) {
  const x = await api.deployment(id);
  if (x.status !== 'running') {
    console.log('deploy', x.status, (Date.now() - d0) / 1000, 's', x.message ?? '');
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
console.log(agents.reduce((s, a) => s + (a.swarm?.counts.fromSeed ?? 0), 0) / 1048576, 'MiB from seed');
await Promise.all(agents.map((a) => a.stop()));
await server.close();
process.exit(0);
