import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/index.js';
import type { InstanceRow, Store } from '../store/index.js';
import { ActualState } from './actual-state.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const report = (version: string): AgentReport => ({
  processes: [{ tag: TAG, process: 'web', version, state: 'up', pid: 10, port: 8080, restarts: 0, startedAt: null, error: null }],
  failures: [],
  generation: 1,
});

/** A store that records the batched writes, and fails the first `failures` instance writes. */
function recordingStore(failures = 0): { store: Store; writes: string[][]; stored: Map<string, InstanceRow[]> } {
  const writes: string[][] = [];
  const stored = new Map<string, InstanceRow[]>();
  const store = {
    async replaceInstancesMany(byHost: { host: string; rows: InstanceRow[] }[]) {
      if (failures-- > 0) throw new Error('database is locked');
      writes.push(byHost.map((h) => h.host));
      for (const h of byHost) stored.set(h.host, h.rows);
    },
    async touchHosts() {},
  } as unknown as Store;
  return { store, writes, stored };
}

test('processes that changed are written together, once; unchanged reports write nothing', async () => {
  const { store, writes, stored } = recordingStore();
  const book = new ActualState(store, 15_000);
  const seen: string[] = [];
  book.on('report', (h) => seen.push(h));
  for (const h of ['h1', 'h2', 'h3']) await book.receive(h, report('v1'));
  assert.deepEqual(seen, ['h1', 'h2', 'h3'], 'the rollout hears of each report at once, before any write');
  assert.equal(book.lastReport('h2')?.processes[0]?.version, 'v1');
  await book.flush();
  assert.deepEqual(writes, [['h1', 'h2', 'h3']]);
  await book.receive('h1', report('v1'));
  await book.receive('h2', report('v2'));
  await book.flush();
  assert.deepEqual(writes, [['h1', 'h2', 'h3'], ['h2']]);
  assert.equal(stored.get('h2')?.[0]?.version, 'v2');
  await book.close();
});

test('a failed write is kept and retried; a newer report of the host wins', async () => {
  const { store, writes, stored } = recordingStore(1);
  const book = new ActualState(store, 15_000);
  await book.receive('h1', report('v1'));
  await book.receive('h2', report('v1'));
  await book.flush(); // fails
  assert.deepEqual(writes, []);
  await book.receive('h2', report('v2'));
  await book.flush();
  assert.deepEqual(writes, [['h1', 'h2']]);
  assert.equal(stored.get('h2')?.[0]?.version, 'v2');
  await book.close();
});

test('heartbeats whose write failed are kept and written by the next flush, never dropped', async () => {
  let failures = 1;
  const beats: { name: string; at: string }[][] = [];
  const store = {
    async replaceInstancesMany() {},
    async touchHosts(b: { name: string; at: string }[]) {
      if (failures-- > 0) throw new Error('the database is locked by another process');
      beats.push(b);
    },
  } as unknown as Store;
  const book = new ActualState(store, 15_000);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    await book.receive('h1', report('v1'));
    await book.flush(); // fails: logged, kept
    assert.equal(beats.length, 0);
    assert.equal(book.failedWrites, 1);
    assert.deepEqual(book.writeFailures, { heartbeats: 1, instances: 0 });
    await book.flush();
    assert.deepEqual(
      beats.map((b) => b.map((x) => x.name)),
      [['h1']],
    );
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    assert.ok(
      warnings.some((w) => /heartbeats failed, will retry/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => w.includes('(h1)') && w.includes('the database is locked by another process')),
      'the warning names the host and the error',
    );
  } finally {
    process.off('warning', onWarning);
    await book.close();
  }
});

test('a failed instance write is counted and logged with its hosts; memory is current before any write', async () => {
  const { store, writes } = recordingStore(1);
  const book = new ActualState(store, 15_000);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    await book.receive('h1', report('v1'));
    assert.deepEqual(
      book.instances().map((r) => [r.host, r.version]),
      [['h1', 'v1']],
      'read from memory, nothing written yet',
    );
    await book.flush(); // fails
    assert.deepEqual(writes, []);
    assert.deepEqual(book.writeFailures, { heartbeats: 0, instances: 1 });
    assert.deepEqual(
      book.instances().map((r) => [r.host, r.version]),
      [['h1', 'v1']],
      'a failed write leaves the model as reported',
    );
    await book.flush();
    assert.deepEqual(writes, [['h1']]);
    await new Promise((r) => setImmediate(r));
    assert.ok(
      warnings.some((w) => /processes failed, will retry \(h1\): database is locked/.test(w)),
      warnings.join('\n'),
    );
  } finally {
    process.off('warning', onWarning);
    await book.close();
  }
});

test("the model starts from the store, each report replaces its host's rows, and rows come in the store's order", async () => {
  const row = (host: string, tag: string, process: string, version: string): InstanceRow => ({
    host,
    tag,
    process,
    version,
    state: 'up',
    pid: 1,
    port: null,
    restarts: 0,
    startedAt: null,
    error: null,
    container: null,
    address: null,
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  const OTHER = TAG.replace('cluster.prod', 'cluster.beta');
  const { store } = recordingStore();
  (store as { listInstances: Store['listInstances'] }).listInstances = async () => [
    row('h2', TAG, 'web', 'v0'),
    row('h1', TAG, 'worker', 'v0'),
    row('h1', OTHER, 'web', 'v0'),
  ];
  const book = new ActualState(store, 15_000);
  await book.load();
  assert.deepEqual(
    book.instances().map((r) => [r.host, r.tag === TAG ? 'prod' : 'beta', r.process]),
    [
      ['h1', 'beta', 'web'],
      ['h1', 'prod', 'worker'],
      ['h2', 'prod', 'web'],
    ],
  );
  assert.deepEqual(book.hosts(), [], 'loaded rows are not reports: no host reported since the start');

  await book.receive('h1', report('v1'));
  assert.deepEqual(
    book.instances().map((r) => [r.host, r.process, r.version]),
    [
      ['h1', 'web', 'v1'],
      ['h2', 'web', 'v0'],
    ],
    "h1's report replaced all of h1's rows",
  );

  book.forget('h2');
  assert.deepEqual(
    book.instances().map((r) => r.host),
    ['h1'],
  );
  await book.close();
});

test('a host forgotten before the flush is not written back', async () => {
  const { store, writes } = recordingStore();
  const book = new ActualState(store, 15_000);
  await book.receive('h1', report('v1'));
  await book.receive('h2', report('v1'));
  book.forget('h1');
  await book.flush();
  assert.deepEqual(writes, [['h2']]);
  assert.equal(book.lastReport('h1'), undefined);
  await book.close();
});

test("a report older than the last taken of the same agent start counts as a heartbeat only; a new start's is taken", async () => {
  const { store } = recordingStore();
  const book = new ActualState(store, 15_000);
  const seen: string[] = [];
  book.on('report', (h, r: AgentReport) => seen.push(`${h} ${r.processes[0]?.version}`));
  const ordered = (version: string, boot: string, seq: number, events: AgentReport['events'] = []): AgentReport => ({
    ...report(version),
    order: { boot, seq },
    events,
  });
  const event = { seq: 1, at: '2026-12-04T20:00:00.000Z', tag: TAG, name: 'web', kind: 'started', message: 'started' };
  await book.receive('h1', ordered('v2', 'b1', 2)); // a transition sent beside an older report, arrived first
  await book.receive('h1', ordered('v1', 'b1', 1, [event])); // the older one, arrived last
  assert.deepEqual(seen, ['h1 v2'], 'the older one changed nothing and told nobody');
  assert.equal(book.lastReport('h1')?.processes[0]?.version, 'v2', 'no update lost');
  assert.equal(book.recentEvents('h1').length, 1, 'its events are kept');
  await book.receive('h1', ordered('v3', 'b1', 3));
  await book.receive('h1', ordered('v4', 'b2', 1)); // the agent started again: its count starts again
  await book.receive('h1', report('v5')); // an agent that sends no order: taken as it comes
  assert.deepEqual(seen, ['h1 v2', 'h1 v3', 'h1 v4', 'h1 v5']);
  await book.close();
});
