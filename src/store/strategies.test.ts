/**
 * Strategies, nodata rules and maintenance windows on both backends: SQLite in memory, and
 * PostgreSQL when NOOPS_TEST_PG_URL is set (a fresh `noops_st_<random>` database per test).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { NewStrategy, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const AT = '2026-01-01T00:00:00.000Z';

const running: NewStrategy = {
  node: 'cop.xiaomi_owt.miliao_pdl.account',
  metric: 'common.servicerunning',
  tags: '',
  func: 'all(#3)',
  op: '==',
  right: 0,
  maxStep: 99,
  priority: 2,
  note: 'the service is down',
  runFrom: null,
  runTo: null,
  off: false,
  createdBy: 'admin',
  createdAt: AT,
};

function behaves(open: () => Promise<Store>): void {
  it('adds, lists (all or by node), changes in place and removes strategies', async () => {
    const store = await open();
    try {
      const a = await store.addStrategy(running);
      const b = await store.addStrategy({
        ...running,
        node: 'cop.xiaomi',
        metric: 'cpu.idle',
        tags: 'mount=/',
        op: '<',
        right: 2.5,
        runFrom: '22:00',
        runTo: '06:00',
        off: true,
      });
      assert.ok(b.id > a.id);
      assert.deepEqual(await store.getStrategy(a.id), { ...running, id: a.id });
      assert.deepEqual(await store.listStrategies(), [a, b]);
      assert.equal(b.right, 2.5);
      assert.equal(b.off, true);
      assert.deepEqual(await store.listStrategies({ nodes: ['cop.xiaomi'] }), [b]);
      assert.deepEqual(await store.listStrategies({ nodes: [] }), []);
      assert.equal(await store.updateStrategy(a.id, { right: 1, priority: 0, runFrom: '09:00', runTo: '18:00' }), true);
      assert.deepEqual(await store.getStrategy(a.id), { ...a, right: 1, priority: 0, runFrom: '09:00', runTo: '18:00' });
      assert.equal(await store.updateStrategy(9999, { right: 1 }), false);
      assert.equal(await store.deleteStrategy(a.id), true);
      assert.equal(await store.deleteStrategy(a.id), false);
      assert.deepEqual(await store.listStrategies(), [b]);
    } finally {
      await store.close();
    }
  });

  it('a strategy written in a transaction that fails is not kept', async () => {
    const store = await open();
    try {
      await assert.rejects(
        store.tx(async (s) => {
          await s.addStrategy(running);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.deepEqual(await store.listStrategies(), []);
    } finally {
      await store.close();
    }
  });

  it('keeps nodata rules and maintenance windows; lists the windows still open', async () => {
    const store = await open();
    try {
      const n = await store.addNodata({
        node: 'cop.xiaomi',
        metric: 'agent.alive',
        tags: '',
        afterSeconds: 120,
        mock: -1,
        step: null,
        createdBy: 'admin',
        createdAt: AT,
      });
      assert.deepEqual(await store.listNodata(), [n]);
      assert.equal(n.mock, -1);
      assert.equal(n.step, null);
      assert.equal(await store.deleteNodata(n.id), true);
      assert.deepEqual(await store.listNodata(), []);

      const old = await store.addMaintenance({
        node: 'cop.xiaomi',
        host: null,
        until: '2026-01-01T01:00:00.000Z',
        reason: 'r',
        createdBy: 'a',
        createdAt: AT,
      });
      const open1 = await store.addMaintenance({
        node: null,
        host: 'h1',
        until: '2026-01-01T03:00:00.000Z',
        reason: '',
        createdBy: 'a',
        createdAt: AT,
      });
      assert.deepEqual(await store.listMaintenance(), [old, open1]);
      assert.deepEqual(await store.listMaintenance({ endsAfter: '2026-01-01T02:00:00.000Z' }), [open1]);
      assert.equal(await store.deleteMaintenance(open1.id), true);
      assert.deepEqual(await store.listMaintenance(), [old]);
    } finally {
      await store.close();
    }
  });
}

describe('strategies on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('strategies on postgres', { skip: NEEDS_PG }, () => {
  const made: TestDatabase[] = [];
  after(async () => {
    await Promise.all(made.map((d) => d.drop()));
  });
  behaves(async () => {
    const db = await testDatabase('noops_st');
    made.push(db);
    return openStore(db.url);
  });
});
