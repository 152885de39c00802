import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredInstance } from '../api/types.js';
import { NoopsError } from '../errors/index.js';
import { CronRunner, type ProcessStatus, type WatchSpec } from '../supervisor/index.js';
import type { ProcessSupervisor, ReleaseStore } from './backends.js';
import { reconcile, type Failures } from './reconcile.js';
import type { AgentState } from './state.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

function desired(version: string): DesiredInstance {
  return {
    tag: TAG, version, sha256: 'a'.repeat(64), url: '/api/v1/artifacts/x', deploymentId: 1, kind: 'deploy',
    manifest: {
      schema: 1, job: TAG, version, commit: version, repo: 'r', builtAt: '', stack: 'manifest', env: {},
      processes: [{ name: 'app', command: 'true', port: null, env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 0 }],
    },
  };
}

/** A supervisor that records starts; nothing runs. */
function recordingSupervisor(started: string[]): ProcessSupervisor {
  const status = (spec: WatchSpec): ProcessStatus => ({
    id: spec.id, state: 'up', pid: null, startTime: null, startedAt: null, restarts: 0, failedStarts: 0, since: 0,
    reason: '', adopted: false, logs: { out: '', err: '' }, meta: {}, retryAt: null, lastExit: null, restartPolicy: 'always',
  });
  return {
    start: (spec) => { started.push(spec.id); return status(spec); },
    hold: (spec) => status(spec),
    adopt: (spec) => status(spec),
    stop: async () => {},
    stopAll: async () => {},
    restart: async () => undefined,
    resume: () => undefined,
    signal: () => {},
    forget: () => 0,
    detach: () => [],
    status: () => undefined,
    list: () => [],
    events: () => [],
    spec: () => undefined,
    on: () => undefined,
  };
}

/** Releases whose install runs the download and fails with what it threw. */
function releases(): ReleaseStore {
  return {
    install: async (opts) => {
      await opts.download('/dev/null');
      return { downloaded: true };
    },
    activate: () => {},
    prune: async () => {},
  };
}

async function run(downloadError: Error): Promise<{ failures: Failures; retried: number; started: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'noops-reconcile-'));
  try {
    const failures: Failures = new Map();
    const started: string[] = [];
    let retried = 0;
    const state: AgentState = { generation: 0, instances: {} };
    await reconcile({
      root, supervisor: recordingSupervisor(started), crons: new CronRunner(), releases: releases(),
      download: async () => { throw downloadError; },
      save: () => {}, log: () => {}, retryLater: () => { retried++; },
    }, state, [desired('abc1234')], failures);
    return { failures, retried, started };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('a server that cannot be reached is retried later, not reported as a failed release', async () => {
  const r = await run(new NoopsError('NOOPS_E_SERVER_UNREACHABLE', 'cannot reach the noops server'));
  assert.equal(r.retried, 1);
  assert.equal(r.failures.size, 0);
  assert.deepEqual(r.started, []);
});

test('a bad package is a failed release, reported to the server, not retried', async () => {
  const r = await run(new NoopsError('NOOPS_E_SHA256_MISMATCH', 'the downloaded package has sha256 x, expected y'));
  assert.equal(r.retried, 0);
  assert.match(r.failures.get(TAG)?.error ?? '', /sha256/);
});
