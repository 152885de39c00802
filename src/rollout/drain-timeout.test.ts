import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../api/index.js';
import { resolvePolicy } from './deploy-policy.js';
import { drainTimeoutMs } from './executor.js';
import { initialProgress } from './step.js';

const release = (drainTimeout?: number) => ({ manifest: drainTimeout === undefined ? {} : { drainTimeout } }) as never;
const progress = (drain_timeout?: number) =>
  initialProgress(resolvePolicy(drain_timeout === undefined ? {} : { drain_timeout }), [['h1']], false, new Date().toISOString());

test("the hooks' drain deadline: the release's noops.yaml drain_timeout, else the policy's, else 30 s", () => {
  assert.equal(drainTimeoutMs({ release: release(20), progress: progress(5) }), 20_000);
  assert.equal(drainTimeoutMs({ release: release(), progress: progress(5) }), 5_000);
  assert.equal(drainTimeoutMs({ release: release(0.25), progress: progress() }), 250);
  assert.equal(drainTimeoutMs({ release: release(), progress: progress() }), DEFAULT_DRAIN_TIMEOUT_MS);
});
