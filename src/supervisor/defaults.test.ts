import { test } from 'node:test';
import assert from 'node:assert/strict';

// Moved from release/supervision.test.ts: release/ no longer imports supervisor/, not even in a test.
test("the manifest defaults are the supervisor's own (an older manifest without the keys runs the same)", async () => {
  const { DEFAULT_FLAPPING, DEFAULT_LOGS } = await import('../release/index.js');
  const sup = await import('./index.js');
  assert.deepEqual(sup.DEFAULT_FLAPPING, {
    times: DEFAULT_FLAPPING.times,
    withinMs: DEFAULT_FLAPPING.within * 1000,
    retryInMs: DEFAULT_FLAPPING.retryIn * 1000,
    retryTimes: DEFAULT_FLAPPING.retryTimes,
    retryWithinMs: DEFAULT_FLAPPING.retryWithin * 1000,
  });
  assert.deepEqual(sup.DEFAULT_LOG_POLICY, { maxBytes: DEFAULT_LOGS.maxSize, keep: DEFAULT_LOGS.keep });
});
