import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/index.js';
import { openStore } from '../store/open.js';
import { instanceRows } from './instances.js';
import { ReportBody } from './report-schema.js';
import type { StoredProcessField } from './shapes.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

/** A report with every field the agent may send. */
const FULL: AgentReport = {
  processes: [
    {
      tag: TAG,
      process: 'web',
      version: 'abc1234',
      state: 'up',
      pid: 42,
      port: 8080,
      restarts: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      error: null,
      health: 'healthy',
      healthySince: '2026-01-01T00:00:01.000Z',
      healthError: null,
      downloaded: true,
      container: 'c0ffee0123456789',
      address: '198.18.3.2',
      oom: false,
    },
    { tag: TAG, process: 'worker', version: 'abc1234', state: 'backoff', pid: null, port: null, restarts: 3, startedAt: null, error: null },
  ],
  failures: [{ tag: TAG, version: 'def5678', error: 'exited 1 three times' }],
  generation: 7,
  metrics: [
    {
      endpoint: 'h1',
      metric: 'common.servicerunning',
      value: 1,
      timestamp: 1_767_225_600,
      step: 5,
      counterType: 'GAUGE',
      tags: 'cop=acme,process=web',
    },
  ],
  events: [{ seq: 1, at: '2026-01-01T00:00:02.000Z', tag: TAG, name: 'worker', kind: 'crash', message: 'exit 1' }],
  crons: [
    {
      tag: TAG,
      name: 'nightly',
      schedule: '0 3 * * *',
      running: false,
      nextRunAt: null,
      lastRun: { startedAt: 'a', endedAt: 'b', result: 'ok', message: '' },
      runs: 1,
      skipped: 0,
    },
  ],
  runtimes: { platform: 'linux/x64', canInstall: true, reason: null, installed: ['node@22.1.0'] },
  trust: { state: 'refused', server: 's1', generation: 6, reason: 'another server', refusal: 'r1', since: '2026-01-01T00:00:00.000Z' },
  capacity: { cpu: 4, memory: 8 * 2 ** 30, disk: 100 * 2 ** 30, freePorts: 28200 },
  order: { boot: '5f0c2a9e81d4', seq: 12 },
};

test('the schema takes a full report as it is: nothing added, dropped or changed on the way in', () => {
  const parsed = ReportBody.parse(JSON.parse(JSON.stringify(FULL)));
  assert.deepEqual(parsed, FULL);
});

test('the schema refuses a field the types do not have', () => {
  const extra = { ...FULL, processes: [{ ...FULL.processes[0], cpu: 1 }] };
  assert.equal(ReportBody.safeParse(extra).success, false);
  assert.equal(ReportBody.safeParse({ ...FULL, capacity: { ...FULL.capacity, gpu: 1 } }).success, false);
  assert.equal(ReportBody.safeParse({ ...FULL, capacity: { ...FULL.capacity, cpu: -1 } }).success, false);
  assert.equal(ReportBody.safeParse({ ...FULL, order: { boot: '', seq: 1 } }).success, false);
  assert.equal(ReportBody.safeParse({ ...FULL, order: { boot: 'b', seq: -1 } }).success, false);
});

test('a report becomes rows with the stored fields only, and the store gives the same rows back', async () => {
  const at = '2026-01-01T00:00:03.000Z';
  const rows = instanceRows('h1', ReportBody.parse(FULL), at);
  const stored: StoredProcessField[] = [
    'tag',
    'process',
    'version',
    'state',
    'pid',
    'port',
    'restarts',
    'startedAt',
    'error',
    'container',
    'address',
  ];
  assert.deepEqual(
    rows.map((r) => Object.keys(r).sort()),
    rows.map(() => ['host', ...stored, 'updatedAt'].sort()),
  );
  assert.deepEqual(
    rows.map((r) => r.error),
    ['def5678: exited 1 three times', 'def5678: exited 1 three times'],
    "a process without an error of its own carries its tag's failure",
  );

  const store = await openStore('sqlite::memory:');
  try {
    await store.upsertHost({ name: 'h1', labels: {}, address: null, joinedAt: at });
    await store.replaceInstancesMany([{ host: 'h1', rows }]);
    assert.deepEqual(await store.listInstances({ host: 'h1' }), rows, 'every field of the row is a column, read back as it was written');
  } finally {
    await store.close();
  }
});

test("a process's reported address is an IP address (what naming registers); an empty one is none", () => {
  const withAddress = (address: unknown) => ({ ...FULL, processes: [{ ...FULL.processes[0], address }] });
  assert.equal(ReportBody.parse(withAddress('198.18.3.2')).processes[0]!.address, '198.18.3.2');
  assert.equal(ReportBody.parse(withAddress('fd00::2')).processes[0]!.address, 'fd00::2');
  assert.equal(ReportBody.parse(withAddress('')).processes[0]!.address, null);
  for (const bad of ['evil.example.com', '198.18.3.2:8080', '198.18.3.256'])
    assert.equal(ReportBody.safeParse(withAddress(bad)).success, false, bad);
});
