import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceRow } from '../store/index.js';
import { compareInstanceRows, instanceRows } from './instances.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const AT = '2026-01-01T00:00:00.000Z';

test('one row per reported process, stamped with the host and the time', () => {
  const rows = instanceRows(
    'h1',
    {
      processes: [
        {
          tag: TAG,
          process: 'web',
          version: 'v1',
          state: 'up',
          pid: 10,
          port: 8080,
          restarts: 0,
          startedAt: AT,
          error: null,
          health: 'healthy',
        },
      ],
      failures: [],
    },
    AT,
  );
  assert.deepEqual(rows, [
    {
      host: 'h1',
      tag: TAG,
      process: 'web',
      version: 'v1',
      state: 'up',
      pid: 10,
      port: 8080,
      restarts: 0,
      startedAt: AT,
      error: null,
      container: null,
      address: null,
      updatedAt: AT,
    },
  ]);
});

test("a process's own error wins over its tag's failure", () => {
  const rows = instanceRows(
    'h1',
    {
      processes: [
        {
          tag: TAG,
          process: 'web',
          version: 'v1',
          state: 'backoff',
          pid: null,
          port: null,
          restarts: 2,
          startedAt: null,
          error: 'port taken',
        },
      ],
      failures: [{ tag: TAG, version: 'v2', error: 'install failed' }],
    },
    AT,
  );
  assert.equal(rows[0]!.error, 'port taken');
});

test('rows sort by host, tag, process in code-unit order, as the store lists them', () => {
  const row = (host: string, tag: string, process: string): InstanceRow => ({
    host,
    tag,
    process,
    version: 'v',
    state: 'up',
    pid: null,
    port: null,
    restarts: 0,
    startedAt: null,
    error: null,
    container: null,
    address: null,
    updatedAt: AT,
  });
  const sorted = [
    row('h2', 'a', 'web'),
    row('h1', 'b', 'web'),
    row('h1', 'a', 'worker'),
    row('h1', 'a', 'web'),
    row('H3', 'a', 'web'),
  ].sort(compareInstanceRows);
  assert.deepEqual(
    sorted.map((r) => `${r.host}/${r.tag}/${r.process}`),
    ['H3/a/web', 'h1/a/web', 'h1/a/worker', 'h1/b/web', 'h2/a/web'],
  );
});
