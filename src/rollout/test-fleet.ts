/**
 * The fleet the controller's tests deploy to: four hosts in one cluster, two releases, and the
 * report a healthy host sends. Shared by controller.test.ts and leading.test.ts.
 */
import type { AgentReport } from '../api/index.js';
import { MemoryRolloutStore } from './testing.js';

export const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
export const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
export const HOSTS = ['h1', 'h2', 'h3', 'h4'];

/** A release's manifest as the build writes it. */
export const manifest = (version: string, deployTests?: string[]) => ({
  schema: 1,
  job: JOB,
  version,
  commit: version.padEnd(40, '0'),
  repo: 'r',
  builtAt: '2024-05-01T12:00:00.000Z',
  stack: 'procfile',
  env: { GREETING: 'hi' },
  processes: [{ name: 'web', command: 'x', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 0 }],
  ...(deployTests ? { deployTests } : {}),
});

/** The stored state a deploy starts from: four hosts in one cluster, two releases. */
export function seeded(deployTests?: string[]): MemoryRolloutStore {
  const mem = new MemoryRolloutStore();
  const at = new Date().toISOString();
  for (const h of HOSTS) {
    mem.hostRows.set(h, {
      name: h,
      labels: {},
      address: `::ffff:10.0.0.${h.slice(1)}`,
      joinedAt: at,
      lastHeartbeat: null,
      scope: null,
      pendingJoin: null,
      joinApprovedUntil: null,
    });
  }
  mem.clusters.set(CLUSTER, {
    tag: CLUSTER,
    hosts: HOSTS,
    policy: { batch: [1, '100%'], version: 'aaaaaaaaa' },
    conf: null,
    updatedAt: at,
  });
  for (const v of ['aaaaaaaaa', 'bbbbbbbbb']) {
    mem.releases.push({
      job: JOB,
      version: v,
      commit: v.padEnd(40, '0'),
      repo: 'r',
      sha256: v[0]!.repeat(64),
      size: 1,
      manifest: manifest(v, deployTests),
      buildId: null,
      createdAt: at,
    });
  }
  return mem;
}

/** What a host running `version` healthily reports. */
export function healthyReport(h: string, version: string): AgentReport {
  const now = new Date(Date.now() - 1000).toISOString();
  return {
    generation: 1,
    failures: [],
    processes: [
      {
        tag: CLUSTER,
        process: 'web',
        version,
        state: 'up',
        pid: 1,
        port: 8000 + Number(h.slice(1)),
        restarts: 0,
        startedAt: now,
        error: null,
        health: 'healthy',
        healthySince: now,
        healthError: null,
        downloaded: version !== 'aaaaaaaaa',
      },
    ],
  };
}
