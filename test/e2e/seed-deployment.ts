/**
 * An ended deployment of many hosts written straight into a stopped server's store, for the
 * console's large-cluster test (ui-large.test.ts) and the reads benchmark (bench/deploy-reads):
 * thousands of hosts without thousands of agents.
 */
import type { HostProgress, RolloutProgress } from '../../src/api/index.js';
import type { DeploymentHostChange, Store } from '../../src/store/index.js';

export interface SeedDeployment {
  tag: string;
  /** the hosts, in 10 batches of (about) a tenth each */
  hosts: string[];
  /** the first hosts of the first batch that failed (the rest succeeded) */
  failures: number;
  /** when it started and ended */
  at: string;
  /** lines of its log (default 1) */
  logLines?: number;
}

/**
 * Writes one ended deployment (succeeded, or failed when `failures` > 0) and every host's part.
 *
 * @example await seedDeployment(store, { tag, hosts: names(10_000), failures: 0, at }) // its id
 */
export async function seedDeployment(store: Store, d: SeedDeployment): Promise<number> {
  const { hosts, failures, at } = d;
  const size = Math.ceil(hosts.length / 10);
  const batches = Array.from({ length: 10 }, (_, b) => hosts.slice(b * size, (b + 1) * size));
  const progress: RolloutProgress = {
    policy: {
      batch: ['10%'],
      pause: 0,
      healthy_for: 0,
      timeout: 300,
      max_failures: failures,
      on_failure: 'stop',
      canary: false,
      canary_wait: null,
      test_timeout: 300,
    },
    batches,
    batch: 9,
    phase: 'done',
    phaseSince: at,
    paused: false,
    promoted: false,
    abort: null,
    outcome: null,
    hosts: {},
    tests: [],
    hasTests: false,
    log: Array.from({ length: d.logLines ?? 1 }, (_, i) => ({ at, message: `batch ${(i % 10) + 1} of 10: ${size} host(s)` })),
  };
  const id = await store.createDeployment({
    tag: d.tag,
    version: 'abcdef001',
    kind: 'deploy',
    initiator: 'admin',
    startedAt: at,
    endedAt: at,
    hosts,
    status: failures > 0 ? 'failed' : 'succeeded',
    previous: Object.fromEntries(hosts.map((h) => [h, 'fedcba987'])),
    hostResults: Object.fromEntries(hosts.map((h) => [h, 'queued'])),
    conf: { batch: '10%' },
    message: failures > 0 ? `${failures} host(s) failed` : null,
    deadline: at,
    progress: progress as unknown as Record<string, unknown>,
  });
  const changes: DeploymentHostChange[] = batches.flatMap((names, b) =>
    names.map((host, i) => {
      const failed = b === 0 && i < failures;
      const entry: HostProgress = {
        state: failed ? 'failed' : 'succeeded',
        batch: b,
        reason: failed ? 'exited 1 before it was healthy' : null,
        startedAt: at,
        healthySince: failed ? null : at,
        endedAt: at,
        downloaded: true,
      };
      return { host, progress: entry, result: failed ? 'failed: exited 1 before it was healthy' : 'succeeded' };
    }),
  );
  await store.updateDeployment(id, { hostChanges: changes });
  return id;
}

/** `n` host names as a large fleet has them: `host-00042.rack2.example.com`. */
export function hostNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `host-${String(i).padStart(5, '0')}.rack${i % 40}.example.com`);
}
