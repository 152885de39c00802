/**
 * The simulated host under the real agent, against a real server (in this process): a deploy
 * reaches three agents, each downloads and verifies the package once, runs it (simulated) and
 * reports it up; a rollback to the release on disk downloads nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/index.js';
import { ApiClient } from '../../src/api/index.js';
import type { AgentReport } from '../../src/api/index.js';
import { startServer } from '../../src/server/index.js';
import { until } from '../lib/daemons.js';
import { MemoryReleases } from './sim-releases.js';
import { SimSupervisor } from './sim-supervisor.js';

const JOB = 'cop.bench_owt.fleet_pdl.sim_service.app_job.app';
const CLUSTER = `${JOB}_cluster.test`;
/** Generous: a shared 2-core machine builds and deploys slowly. */
const WAIT_MS = 60_000;

test('simulated hosts run the real protocol: deploy, verify, report up; a rollback downloads nothing', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-sim-agent-'));
  const server = await startServer({ dataDir: join(dir, 'server'), listen: '127.0.0.1:0', heartbeatMs: 500 });
  const agents: Agent[] = [];
  try {
    const api = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const repo = join(dir, 'repo');
    const git = (...args: string[]): string =>
      execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], {
        cwd: repo,
        encoding: 'utf8',
      }).trim();
    execFileSync('mkdir', ['-p', repo]);
    git('init', '-q');
    const commits: string[] = [];
    for (const v of ['one', 'two']) {
      writeFileSync(join(repo, 'noops.yaml'), `processes:\n  app:\n    command: exec sleep 100\n    port: null\n    start_grace: 0.1\n`);
      writeFileSync(join(repo, 'VERSION'), v);
      git('add', '-A');
      git('commit', '-q', '-m', v);
      commits.push(git('rev-parse', 'HEAD'));
    }
    const versions: string[] = [];
    for (const c of commits) {
      const b = await api.startBuild({ repo, tag: JOB, ref: c });
      const done = await until(
        'the build',
        async () => {
          const { build } = await api.build(b.id, 0);
          return build.status !== 'running' && build;
        },
        WAIT_MS,
      );
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      versions.push(done.version!);
    }
    const [v1, v2] = versions as [string, string];
    const size = (await api.releases(JOB)).find((r) => r.version === v1)!.size;

    const meter = { bytes: 0, downloads: 0 };
    const last = new Map<string, AgentReport>();
    const joinToken = readFileSync(server.joinTokenFile, 'utf8').trim();
    for (const name of ['s1', 's2', 's3']) {
      const a = new Agent({
        server: server.url,
        joinToken,
        root: join(dir, 'agents', name),
        name,
        labels: {},
        log: () => {},
        host: { supervisor: new SimSupervisor(), releases: new MemoryReleases(meter) },
        ctl: false,
        observer: { reported: (r) => void last.set(name, r) },
      });
      await a.start();
      agents.push(a);
    }
    await api.setCluster({ tag: CLUSTER, hosts: ['s1', 's2', 's3'] });
    const runs = (v: string): boolean =>
      ['s1', 's2', 's3'].every((h) => last.get(h)?.processes.some((p) => p.version === v && p.state === 'up'));
    const deployed = async (start: Promise<{ id: number }>): Promise<void> => {
      const { id } = await start;
      const d = await until(
        'the deployment to end',
        async () => {
          const x = await api.deployment(id);
          return x.status !== 'running' && x;
        },
        WAIT_MS,
      );
      assert.equal(d.status, 'succeeded', d.message ?? '');
    };

    await deployed(api.deploy({ tag: CLUSTER, version: v1 }));
    await until('every agent to report v1 up', () => runs(v1), WAIT_MS);
    assert.deepEqual(meter, { bytes: 3 * size, downloads: 3 });
    const ps = await api.instances(CLUSTER);
    assert.deepEqual(ps.map((p) => [p.host, p.version, p.state]).sort(), [
      ['s1', v1, 'up'],
      ['s2', v1, 'up'],
      ['s3', v1, 'up'],
    ]);

    await deployed(api.deploy({ tag: CLUSTER, version: v2 }));
    await deployed(api.rollback({ tag: CLUSTER, to: v1 }));
    await until('every agent to report v1 up again', () => runs(v1), WAIT_MS);
    assert.equal(meter.downloads, 6, 'v2 downloaded once per host; the rollback to v1 found it on disk');
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
