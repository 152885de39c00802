/**
 * A `driver: container` release whose image is not on the host (the real engine says so) is a
 * failed release: reported with a clear error, while the old release keeps running (nothing is
 * stopped, nothing started).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredInstance } from '../api/index.js';
import { CronRunner, type ProcessStatus, type WatchSpec } from '../supervisor/index.js';
import type { ProcessSupervisor } from './backends.js';
import { EngineRunner } from './containers/runner.js';
import { reconcile, type Failures } from './reconcile.js';
import type { AgentState } from './state.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.ctr_job.web_cluster.prod';

function desired(version: string, over: Partial<DesiredInstance['manifest']> = {}): DesiredInstance {
  return {
    tag: TAG,
    version,
    sha256: 'a'.repeat(64),
    url: '/api/v1/artifacts/x',
    deploymentId: 1,
    kind: 'deploy',
    manifest: {
      schema: 1,
      job: TAG,
      version,
      commit: version,
      repo: 'r',
      builtAt: '',
      stack: 'manifest',
      env: {},
      processes: [{ name: 'app', command: 'true', port: null, env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 0 }],
      ...over,
    },
  };
}

test('a container release whose image is missing fails clearly and the old release keeps running', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-reconcile-ctr-'));
  const calls: string[] = [];
  const up = (spec: WatchSpec): ProcessStatus => ({ ...({} as ProcessStatus), id: spec.id, state: 'up' });
  const supervisor = {
    start: (spec: WatchSpec) => {
      calls.push(`start ${spec.id}`);
      return up(spec);
    },
    stop: async (id: string) => void calls.push(`stop ${id}`),
    status: (id: string) => ({ id, state: 'up' }) as ProcessStatus,
    forget: () => 0,
  } as unknown as ProcessSupervisor;
  try {
    const old = desired('aaaaaaaaa');
    const state: AgentState = { generation: 0, instances: { [TAG]: { desired: old, ports: {}, processes: {} } } };
    const failures: Failures = new Map();
    await reconcile(
      {
        root,
        supervisor,
        crons: new CronRunner(),
        releases: { install: async () => ({ downloaded: false }), activate: () => calls.push('activate'), prune: async () => {} },
        download: async () => {},
        save: () => {},
        log: () => {},
        containers: new EngineRunner({ host: 'reconcile-test', log: () => undefined }),
      },
      state,
      [desired('bbbbbbbbb', { driver: 'container', image: 'noops-no-such-image:1' })],
      failures,
    );
    assert.match(
      failures.get(TAG)?.error ?? '',
      /cannot run bbbbbbbbb in containers: the image noops-no-such-image:1 .* is not on this host/,
    );
    assert.deepEqual(calls, [], 'nothing stopped, activated or started');
    assert.equal(state.instances[TAG]?.desired.version, 'aaaaaaaaa');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
