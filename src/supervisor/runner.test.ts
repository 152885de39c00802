import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConditionSpec } from './conditions.js';
import { retargetLoopback } from './runner.js';

const base = { intervalMs: 1000, times: 1, of: 1, action: 'restart' as const };

test("a container's conditions on its own port probe its address; others are left as written", () => {
  const conditions: ConditionSpec[] = [
    { kind: 'http', url: 'http://127.0.0.1:8080/health', timeoutMs: 1000, ...base },
    { kind: 'http', url: 'http://other.example:80/', timeoutMs: 1000, ...base },
    { kind: 'tcp', host: '127.0.0.1', port: 8080, timeoutMs: 1000, ...base },
    { kind: 'memory', aboveBytes: 1, ...base },
  ];
  const out = retargetLoopback(conditions, '198.18.200.5');
  assert.equal((out[0] as { url: string }).url, 'http://198.18.200.5:8080/health');
  assert.equal((out[1] as { url: string }).url, 'http://other.example:80/');
  assert.equal((out[2] as { host: string }).host, '198.18.200.5');
  assert.deepEqual(out[3], conditions[3]);
  assert.deepEqual(retargetLoopback(conditions, null), conditions, 'a host process: unchanged');
});
