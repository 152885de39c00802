import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/types.js';
import type { InstanceRow, Store } from '../store/index.js';
import { ReportBook } from './reports.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const report = (version: string): AgentReport => ({
  processes: [{ tag: TAG, process: 'web', version, state: 'up', pid: 10, port: 8080, restarts: 0, startedAt: null, error: null }],
  failures: [], generation: 1,
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
  const book = new ReportBook(store, 15_000);
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
  const book = new ReportBook(store, 15_000);
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
  const book = new ReportBook(store, 15_000);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => { warnings.push(w.message); };
  process.on('warning', onWarning);
  try {
    await book.receive('h1', report('v1'));
    await book.flush(); // fails: logged, kept
    assert.equal(beats.length, 0);
    assert.equal(book.failedWrites, 1);
    await book.flush();
    assert.deepEqual(beats.map((b) => b.map((x) => x.name)), [['h1']]);
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    assert.ok(warnings.some((w) => /heartbeats failed, will retry/.test(w)), warnings.join('\n'));
  } finally {
    process.off('warning', onWarning);
    await book.close();
  }
});
