/**
 * A deployment's summary read as its head and its hosts' counts (deploy-reads.ts, with the
 * database counting: store/deployment-heads.ts) is the summary of the whole deployment, index
 * included: on SQLite and on PostgreSQL (NOOPS_TEST_PG_URL), for a deployment seeded in the store
 * with hosts in every state, more failures and more hosts in flight than a summary lists, and
 * hosts still queued.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HostProgress, type RolloutProgress, SUMMARY_HOSTS_MAX } from '../../api/index.js';
import type { DeploymentHostChange, Store } from '../../store/index.js';
import { openStore } from '../../store/open.js';
import { NEEDS_PG, testDatabase } from '../../store/test-pg.js';
import type { Principal, ServerContext } from '../context.js';
import { listSummaries, summaryById } from './deploy-reads.js';
import { deploymentSummary } from './deploy-summary.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-deploy-reads-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((err: Error) => process.emitWarning(`cleanup: ${err.message}`));
  rmSync(dir, { recursive: true, force: true });
});

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const AT = '2026-12-04T12:00:00.000Z';

/**
 * Seeds a deployment of `batches` (host counts per batch) the way the rollout controller writes
 * one: its head, then each host that left `queued` as its own row. `stateOf` says each host's
 * state (undefined: still queued, no row).
 */
async function seedDeployment(
  store: Store,
  batches: number[],
  stateOf: (batch: number, i: number) => { state: HostProgress['state']; reason?: string } | undefined,
  status: 'running' | 'failed' = 'running',
): Promise<number> {
  const plan = batches.map((n, b) => Array.from({ length: n }, (_, i) => `b${b}-h${String(i).padStart(5, '0')}`));
  // not in name order: plan order is the plan's, whatever the names
  for (const b of plan) b.reverse();
  const hosts = plan.flat();
  const progress: RolloutProgress = {
    policy: {
      batch: batches,
      pause: 0,
      healthy_for: 0,
      timeout: 300,
      max_failures: 0,
      on_failure: 'stop',
      canary: false,
      canary_wait: null,
      test_timeout: 300,
    },
    batches: plan,
    batch: 1,
    phase: status === 'running' ? 'deploying' : 'done',
    phaseSince: AT,
    paused: false,
    promoted: false,
    abort: null,
    outcome: null,
    hosts: {},
    tests: [],
    hasTests: false,
    log: [{ at: AT, message: 'batch 1 of 2' }],
  };
  const id = await store.createDeployment({
    tag: TAG,
    version: 'abcdef001',
    kind: 'deploy',
    initiator: 'admin',
    startedAt: AT,
    endedAt: status === 'running' ? null : AT,
    hosts,
    status,
    previous: Object.fromEntries(hosts.map((h, i) => [h, i % 3 === 0 ? null : 'fedcba987'])),
    hostResults: Object.fromEntries(hosts.map((h) => [h, 'queued'])),
    conf: { batch: batches },
    message: status === 'running' ? null : 'some hosts failed',
    deadline: AT,
    progress: progress as unknown as Record<string, unknown>,
  });
  const changes: DeploymentHostChange[] = [];
  for (const [b, names] of plan.entries()) {
    for (const [i, host] of names.entries()) {
      const s = stateOf(b, i);
      if (!s) continue;
      const entry: HostProgress = {
        state: s.state,
        batch: b,
        reason: s.reason ?? null,
        startedAt: AT,
        healthySince: null,
        endedAt: null,
        downloaded: false,
      };
      changes.push({ host, progress: entry, result: s.reason ? `${s.state}: ${s.reason}` : s.state });
    }
  }
  await store.updateDeployment(id, { hostChanges: changes });
  return id;
}

/** A server context that steps nothing (every deployment is read from the store). */
const storeOnly = (store: Store) => ({ store, rollout: { current: () => undefined } }) as unknown as ServerContext;
const ADMIN: Principal = { id: '', kind: 'admin', name: 'admin', scope: null, role: 'admin' };

const BACKENDS = [
  { name: 'sqlite', skip: false as const, url: async () => `sqlite:${join(dir, 'reads.db')}` },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    url: async () => {
      const db = await testDatabase('noops_dreads');
      cleanups.push(() => db.drop());
      return db.url;
    },
  },
];

for (const b of BACKENDS) {
  describe(`a summary from a deployment's head and counts (${b.name})`, { skip: b.skip }, () => {
    it('is the summary of the whole deployment, index included', async () => {
      const store = await openStore(await b.url());
      cleanups.push(() => store.close());
      const ctx = storeOnly(store);
      // batch 0: 30 succeeded, 70 failed, 20 reverted after failing, 10 reverted (no reason); batch 1: 80 in flight, 40 failed, the rest queued; batch 2: queued
      const running = await seedDeployment(store, [130, 200, 50], (batch, i) => {
        if (batch === 0) {
          if (i < 30) return { state: 'succeeded' };
          if (i < 100) return { state: 'failed', reason: 'exited 1' };
          if (i < 120) return { state: 'reverted', reason: 'health check failed' };
          return { state: 'reverted' };
        }
        if (batch === 1 && i < 120)
          return i % 3 === 0 ? { state: 'failed', reason: 'timeout' } : { state: i % 2 ? 'deploying' : 'healthy' };
        return undefined;
      });
      const ended = await seedDeployment(
        store,
        [3, 4],
        (batch, i) => (batch === 0 || i < 2 ? { state: 'succeeded' } : undefined),
        'failed',
      );
      for (const id of [running, ended]) {
        const whole = deploymentSummary((await store.getDeployment(id))!);
        const read = await summaryById(ctx, String(id), ADMIN);
        assert.deepEqual(read, whole, `deployment ${id}`);
      }
      const s = await summaryById(ctx, String(running), ADMIN);
      assert.deepEqual(s.states, { queued: 130, deploying: 40, healthy: 40, succeeded: 30, failed: 110, reverted: 30 });
      assert.equal(s.failureCount, 130);
      assert.equal(s.failures.length, SUMMARY_HOSTS_MAX);
      assert.equal(s.inFlight.length, SUMMARY_HOSTS_MAX);
      assert.equal(s.failures[0]!.host, 'b0-h00099', 'in plan order (the plan names batch 0 from h00129 down)');
      const listed = await listSummaries(ctx, { tag: TAG });
      assert.deepEqual(
        listed.map((x) => x.id),
        [ended, running],
        'newest first',
      );
      assert.deepEqual(listed[1], s);

      // an ended deployment never changes: its summary is kept, its hosts are not counted again
      let counted = 0;
      const counting = new Proxy(store, {
        get: (target, key, receiver) =>
          key === 'countDeploymentHosts'
            ? (ids: readonly number[]) => {
                counted += 1;
                return target.countDeploymentHosts(ids);
              }
            : Reflect.get(target, key, receiver),
      });
      const again = storeOnly(counting);
      const first = await summaryById(again, String(ended), ADMIN);
      assert.deepEqual(await summaryById(again, String(ended), ADMIN), first);
      assert.equal(counted, 1, 'counted once');
      await summaryById(again, String(running), ADMIN);
      await summaryById(again, String(running), ADMIN);
      assert.equal(counted, 3, 'a running one is counted at each read');
    });
  });
}
