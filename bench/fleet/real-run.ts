/**
 * The reality check: the same rollouts and rollbacks with real `noops agent` processes that
 * install packages on disk and run real supervised processes, against a fresh server; then with
 * as many simulated agents, to show how far the simulation is from reality.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../../src/api/index.js';
import { killSupervised, startAgent, until, type Daemon } from '../lib/daemons.js';
import { tlsVariant } from './tls.js';
import { measureDeploy, type DeployFigures, type Watch } from './deploy.js';
import type { FleetPlan } from './plan.js';
import { clusterOf, startSeedServer, type Seed, type SeedRelease } from './seed.js';

/** How often the real agents' instances are read while waiting for a release: fine enough
 * for timings in seconds, light on a 20-host cluster. */
const POLL_MS = 100;
/** A real agent process starts (Node, its modules) and joins; on a busy machine, slowly. */
const JOIN_TIMEOUT_MS = 120_000;
/** A deploy of the largest payload to the real agents, unpacked on disk, may take this long. */
const DEPLOY_TIMEOUT_MS = 600_000;

export interface RealFigures {
  hosts: number;
  join: { ms: number };
  firstDeploy: DeployFigures;
  rollouts: { mib: number; packageBytes: number; rollout: DeployFigures; rollback: DeployFigures }[];
}

/** Waits for releases through the API, as a user would see them: per host, when `ps` shows it up. */
function apiWatch(api: ApiClient, hosts: string[]): Watch {
  return async (tag, version, timeoutMs) => async () => {
    const up = new Map<string, number>();
    await until(
      `${hosts.length} real agents to run ${version}`,
      async () => {
        for (const row of await api.instances(tag)) {
          if (row.version === version && row.state === 'up' && !up.has(row.host)) up.set(row.host, Date.now());
        }
        return up.size >= hosts.length;
      },
      timeoutMs,
      POLL_MS,
    );
    return { received: [], up: [...up.values()] };
  };
}

export async function runReal(plan: FleetPlan, seed: Seed, dir: string): Promise<RealFigures> {
  const n = plan.realAgents;
  const server = await startSeedServer(seed, join(dir, 'server'), tlsVariant() ? ['--tls', 'auto'] : []);
  const names = Array.from({ length: n }, (_, i) => `real-${String(i + 1).padStart(2, '0')}`);
  const roots = names.map((name) => join(dir, 'agents', name));
  const agents: Daemon[] = [];
  const tag = clusterOf(`real${n}`);
  try {
    const t0 = Date.now();
    for (const [i, name] of names.entries()) {
      mkdirSync(roots[i]!, { recursive: true });
      agents.push(startAgent(server, roots[i]!, name));
    }
    await until(
      `${n} real agents to join`,
      async () => (await server.api.hosts()).filter((h) => h.status === 'up').length >= n,
      JOIN_TIMEOUT_MS,
      250,
    );
    const join_ = { ms: Date.now() - t0 };
    await server.api.setCluster({ tag, hosts: names });
    const watch = apiWatch(server.api, names);
    const deploy = (release: SeedRelease, kind: 'deploy' | 'rollback', batch?: string): Promise<DeployFigures> =>
      measureDeploy({
        api: server.api,
        serverPid: server.pid,
        agentPids: () => agents.map((a) => a.pid),
        watch,
        tag,
        version: release.version,
        kind,
        batch,
        timeoutMs: DEPLOY_TIMEOUT_MS,
      });
    const firstDeploy = await deploy(seed.tinyA, 'deploy', plan.batch);
    const rollouts: RealFigures['rollouts'] = [];
    for (const mib of plan.realRollouts) {
      const release = seed.payload[mib]!;
      const rollout = await deploy(release, 'deploy', plan.batch);
      const rollback = await deploy(seed.tinyA, 'rollback', '100%');
      rollouts.push({ mib, packageBytes: release.size, rollout, rollback });
    }
    return { hosts: n, join: join_, firstDeploy, rollouts };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    roots.forEach(killSupervised);
    await server.stop();
    rmSync(join(dir, 'server'), { recursive: true, force: true });
    rmSync(join(dir, 'agents'), { recursive: true, force: true });
  }
}
