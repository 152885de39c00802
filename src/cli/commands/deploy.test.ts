import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { deploymentFailure } from './deploy.js';

function ended(over: Partial<DeploymentView>): DeploymentView {
  return {
    id: 12,
    tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.prod',
    version: 'abc123def',
    kind: 'deploy',
    initiator: 'admin',
    startedAt: '2026-01-01T12:00:00.000Z',
    endedAt: '2026-01-01T12:00:09.000Z',
    hostCount: 2,
    hosts: ['h1', 'h2'],
    status: 'failed',
    previous: { h1: null, h2: null },
    hostResults: {},
    message: null,
    conf: {},
    progress: null,
    ...over,
  };
}

test('deploymentFailure: a deployment that did not succeed ends the CLI with NOOPS_E_DEPLOY_FAILED and its ending as message', () => {
  const e = deploymentFailure(
    ended({
      status: 'rolled_back',
      hostResults: { h1: 'reverted', h2: 'reverted after failing: not healthy within 6s: web: health check failing' },
      message: '1 host(s) failed in batch 1 of 2: h2: not healthy within 6s',
    }),
  );
  assert.ok(e instanceof NoopsError);
  assert.deepEqual(
    [e.code, e.status, e.message],
    ['NOOPS_E_DEPLOY_FAILED', 422, 'deploy #12 rolled back: 1 host(s) failed in batch 1 of 2: h2: not healthy within 6s'],
  );
  assert.match(e.hint, /noops deploy status -t TAG/);
  assert.equal(deploymentFailure(ended({ status: 'aborted', kind: 'rollback', message: null })).message, 'rollback #12 aborted');
});

test("deploymentFailure: a host that refused the release's signature gives NOOPS_E_SIGNATURE_INVALID and its remedy", () => {
  const e = deploymentFailure(
    ended({
      hostResults: {
        h1: 'succeeded',
        h2: 'failed: release abc123def is refused, its signature does not verify: it carries no signature. Nothing of it was installed or run',
      },
      message: '1 host(s) failed',
    }),
  );
  assert.equal(e.code, 'NOOPS_E_SIGNATURE_INVALID');
  assert.equal(e.message, 'deploy #12 failed: 1 host(s) failed');
  assert.match(e.hint, /build it again and deploy the new release/);
});
