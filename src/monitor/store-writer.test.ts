/**
 * The writer against PostgreSQL (NOOPS_TEST_PG_URL): one host's rows the store cannot hold (a NUL
 * in a process's error, which the report route now refuses or replaces before it gets here) must
 * not hold back every other host's, flush after flush.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/index.js';
import { LocalChangeBus } from '../bus/index.js';
import { openStore } from '../store/open.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';
import { ActualState } from './actual-state.js';
import { ISOLATE_AFTER_FAILURES } from './store-writer.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const report = (version: string, error: string | null = null, seq = 1): AgentReport => ({
  processes: [{ tag: TAG, process: 'web', version, state: 'up', pid: 10, port: 8080, restarts: 0, startedAt: null, error }],
  failures: [],
  generation: 1,
  order: { boot: 'b', seq },
});

let db: TestDatabase | undefined;
after(async () => {
  await db?.drop();
});

test('a host whose rows the store refuses is given up, with a warning, once it held back the others twice', {
  skip: NEEDS_PG,
}, async (t) => {
  db = await testDatabase('noops_sw');
  const store = await openStore(db.url);
  t.after(() => store.close());
  // the store's row writes, counted
  let rowWrites = 0;
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'replaceInstancesMany' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        rowWrites++;
        return value.apply(target, args);
      };
    },
  });
  const model = new ActualState(counted, 15_000, new LocalChangeBus());
  t.after(() => model.close());
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const hosts = Array.from({ length: 32 }, (_, i) => `h${String(i).padStart(2, '0')}`);
  for (const host of hosts) await model.receive(host, report('v1', host === 'h02' ? 'died\u0000here' : null));
  for (let i = 1; i < ISOLATE_AFTER_FAILURES; i++) {
    await model.flush();
    assert.deepEqual(await store.listInstances(), [], 'the batch with h02 fails whole');
  }
  rowWrites = 0;
  await model.flush(); // fails again: then in halves
  assert.deepEqual(
    (await store.listInstances()).map((r) => r.host),
    hosts.filter((h) => h !== 'h02'),
  );
  // the batch, then two halves a level down to h02 (5 levels of 32), not 32 writes of one host
  assert.ok(rowWrites <= 1 + 2 * 5, `${rowWrites} writes`);
  // its report is stored (its JSON escapes the NUL); only its rows are refused
  assert.deepEqual((await store.listHostReports()).map((r) => r.host).sort(), hosts);
  await new Promise((r) => setImmediate(r));
  assert.ok(
    warnings.some((w) => /the store refuses h02's processes .*given up/.test(w)),
    warnings.join('\n'),
  );
  // nothing of h02 is tried again; its next report is written as any
  const calls = model.writeFailures.instances;
  await model.flush();
  assert.equal(model.writeFailures.instances, calls, 'no write failed since');
  await model.receive('h02', report('v2', null, 2));
  await model.flush();
  assert.deepEqual(
    (await store.listInstances({ host: 'h02' })).map((r) => r.version),
    ['v2'],
  );
});

test('a store that is away is not written part by part for long: the rows are kept, and written whole once it is back', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  let away = true;
  let rowWrites = 0;
  const flaky = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      if (name !== 'replaceInstancesMany') return value.bind(target);
      return (...args: unknown[]) => {
        rowWrites++;
        return away ? Promise.reject(new Error('connection refused')) : value.apply(target, args);
      };
    },
  });
  const model = new ActualState(flaky, 15_000);
  t.after(() => model.close());
  const onWarning = (): void => {};
  process.on('warning', onWarning); // the failures' warnings, expected
  t.after(() => process.off('warning', onWarning));
  const hosts = Array.from({ length: 32 }, (_, i) => `h${String(i).padStart(2, '0')}`);
  for (const host of hosts) await model.receive(host, report('v1'));
  for (let i = 0; i < ISOLATE_AFTER_FAILURES; i++) await model.flush();
  // the batch, then at most 2 log2(32) + 2 parts before the store is taken to be away
  assert.ok(rowWrites <= ISOLATE_AFTER_FAILURES + 12, `${rowWrites} writes`);
  assert.deepEqual(await store.listInstances(), []);
  away = false;
  rowWrites = 0;
  await model.flush();
  assert.equal(rowWrites, 1, 'written whole');
  assert.equal((await store.listInstances()).length, 32, 'nothing was given up');
});

test('a host that fails alone for a passing reason (a lock, a lost connection) is kept, not given up', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  let locked = true;
  const flaky = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      if (name !== 'replaceInstancesMany') return value.bind(target);
      return (byHost: { host: string }[]) =>
        locked && byHost.some((h) => h.host === 'h05') ? Promise.reject(new Error('deadlock detected')) : value.call(target, byHost);
    },
  });
  const model = new ActualState(flaky, 15_000);
  t.after(() => model.close());
  const onWarning = (): void => {};
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const hosts = Array.from({ length: 8 }, (_, i) => `h${String(i).padStart(2, '0')}`);
  for (const host of hosts) await model.receive(host, report('v1'));
  for (let i = 0; i < ISOLATE_AFTER_FAILURES; i++) await model.flush();
  assert.deepEqual(
    (await store.listInstances()).map((r) => r.host),
    hosts.filter((h) => h !== 'h05'),
    'the others are written',
  );
  locked = false;
  await model.flush();
  assert.deepEqual(
    (await store.listInstances()).map((r) => r.host),
    hosts,
    'h05 was kept, and is written once the lock is gone',
  );
});
