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
  const model = new ActualState(store, 15_000, new LocalChangeBus());
  t.after(() => model.close());
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  await model.receive('h1', report('v1'));
  await model.receive('h2', report('v1', 'died\u0000here'));
  await model.receive('h3', report('v1'));
  for (let i = 1; i < ISOLATE_AFTER_FAILURES; i++) {
    await model.flush();
    assert.deepEqual(await store.listInstances(), [], 'the batch with h2 fails whole');
  }
  await model.flush(); // fails again: host by host
  assert.deepEqual(
    (await store.listInstances()).map((r) => [r.host, r.version]),
    [
      ['h1', 'v1'],
      ['h3', 'v1'],
    ],
  );
  // its report is stored (its JSON escapes the NUL); only its rows are refused
  assert.deepEqual((await store.listHostReports()).map((r) => r.host).sort(), ['h1', 'h2', 'h3']);
  await new Promise((r) => setImmediate(r));
  assert.ok(
    warnings.some((w) => /the store refuses h2's processes .*given up/.test(w)),
    warnings.join('\n'),
  );
  // nothing of h2 is tried again; its next report is written as any
  const calls = model.writeFailures.instances;
  await model.flush();
  assert.equal(model.writeFailures.instances, calls, 'no write failed since');
  await model.receive('h2', report('v2', null, 2));
  await model.flush();
  assert.deepEqual(
    (await store.listInstances({ host: 'h2' })).map((r) => r.version),
    ['v2'],
  );
});
