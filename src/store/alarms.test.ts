/**
 * The alarms' tables on both backends: SQLite in memory, and PostgreSQL when NOOPS_TEST_PG_URL
 * is set (a database of this file's own, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { NewAlarmEvent, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

let db: TestDatabase | undefined;

function event(over: Partial<NewAlarmEvent>): NewAlarmEvent {
  return {
    eventId: 'e_1_h1/m',
    strategyId: '1',
    seriesKey: 'h1/m',
    endpoint: 'h1',
    metric: 'm',
    tags: '',
    node: 'cop.x_owt.y',
    selector: 'cop=x',
    status: 'PROBLEM',
    currentStep: 1,
    leftValue: 0.5,
    eventTime: 1_700_000_000,
    priority: 2,
    note: 'down',
    func: 'all(#3)',
    op: '==',
    right: 0,
    storedAt: '2026-01-01T00:00:00.000Z',
    silenced: null,
    ...over,
  };
}

function behaves(open: () => Promise<Store>): void {
  it('stores many events in few statements, in their order, and reads them back by ids in one', async () => {
    const store = await open();
    try {
      // more than one batch of BATCH_ROWS (500)
      const many = Array.from({ length: 1203 }, (_, i) => event({ seriesKey: `s${i}`, currentStep: (i % 3) + 1, leftValue: i }));
      const added = await store.alarms.addEvents(many);
      assert.deepEqual(
        added.map((e) => [e.seriesKey, e.leftValue]),
        many.map((e) => [e.seriesKey, e.leftValue]),
      );
      assert.deepEqual(
        added.map((e) => e.id),
        [...added.map((e) => e.id)].sort((x, y) => x - y),
      );
      const picked = [added[1200]!.id, added[3]!.id, added[700]!.id, 99_999_999];
      assert.deepEqual(
        (await store.alarms.getEvents(picked)).map((e) => e.seriesKey),
        ['s3', 's700', 's1200'],
      );
      assert.deepEqual(await store.alarms.getEvents([]), []);
      assert.deepEqual(await store.alarms.addEvents([]), []);
    } finally {
      await store.close();
    }
  });

  it('lists the last PROBLEM of each series still in trouble, every OK, or all, newest first, under a node', async () => {
    const store = await open();
    try {
      const added = await store.alarms.addEvents([
        event({ seriesKey: 'a', currentStep: 1 }),
        event({ seriesKey: 'b', node: 'cop.x_owt.z' }),
        event({ seriesKey: 'a', currentStep: 2, leftValue: 1.25 }),
        event({ seriesKey: 'b', status: 'OK', node: 'cop.x_owt.z' }),
        event({ seriesKey: 'c', node: 'cop.x_owt.y_pdl.p', strategyId: '2' }),
        event({ seriesKey: 'd', node: 'cop.x_owt.yy' }),
      ]);
      assert.deepEqual(
        added.map((e) => e.id),
        [...added.map((e) => e.id)].sort((x, y) => x - y),
      );
      const ids = (rows: { seriesKey: string; status: string; currentStep: number }[]) =>
        rows.map((r) => `${r.seriesKey}:${r.status}:${r.currentStep}`);
      assert.deepEqual(ids(await store.alarms.listEvents({ status: 'problem', limit: 10 })), ['d:PROBLEM:1', 'c:PROBLEM:1', 'a:PROBLEM:2']);
      assert.deepEqual(ids(await store.alarms.listEvents({ status: 'ok', limit: 10 })), ['b:OK:1']);
      assert.equal((await store.alarms.listEvents({ status: 'all', limit: 10 })).length, 6);
      assert.equal((await store.alarms.listEvents({ status: 'all', limit: 2 })).length, 2);
      // under cop.x_owt.y: itself and below, never its neighbour cop.x_owt.yy
      assert.deepEqual(ids(await store.alarms.listEvents({ status: 'problem', under: 'cop.x_owt.y', limit: 10 })), [
        'c:PROBLEM:1',
        'a:PROBLEM:2',
      ]);
      const a2 = added[2]!;
      assert.equal(a2.leftValue, 1.25);
      assert.equal(a2.eventTime, 1_700_000_000);
      assert.equal(await store.alarms.ackEvent(a2.id, 'alice', '2026-01-01T00:01:00.000Z'), true);
      assert.equal(await store.alarms.ackEvent(99_999, 'alice', 'x'), false);
      const got = await store.alarms.getEvent(a2.id);
      assert.equal(got?.acknowledgedBy, 'alice');
      const last = await store.alarms.lastEvents();
      assert.deepEqual(last.map((r) => `${r.strategyId}:${r.seriesKey}:${r.status}`).sort(), [
        '1:a:PROBLEM',
        '1:b:OK',
        '1:d:PROBLEM',
        '2:c:PROBLEM',
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps silences and callbacks; deliveries are due, retried and settled, and go with their callback', async () => {
    const store = await open();
    try {
      const s = await store.alarms.addSilence({
        selector: 'cop.x',
        until: '2026-01-01T01:00:00.000Z',
        reason: 'upgrade',
        createdBy: 'bob',
        createdAt: 'now',
      });
      assert.deepEqual(
        (await store.alarms.listSilences('2026-01-01T00:30:00.000Z')).map((r) => r.id),
        [s.id],
      );
      assert.deepEqual(await store.alarms.listSilences('2026-01-01T02:00:00.000Z'), []);
      assert.equal((await store.alarms.deleteSilence(s.id))?.reason, 'upgrade');
      assert.equal(await store.alarms.deleteSilence(s.id), undefined);

      const cb = await store.alarms.addCallback({ url: 'http://x/cb', priority: 2, createdBy: 'bob', createdAt: 'now' });
      assert.deepEqual(await store.alarms.listCallbacks(), [cb]);
      const [e] = await store.alarms.addEvents([event({})]);
      await store.alarms.addDeliveries([
        { callbackId: cb.id, alarmId: e!.id, batch: null, nextAt: 1000 },
        { callbackId: cb.id, alarmId: e!.id, batch: '1@60', nextAt: 5000 },
      ]);
      assert.equal(await store.alarms.nextDeliveryAt(), 1000);
      const due = await store.alarms.dueDeliveries(2000, 10);
      assert.equal(due.length, 1);
      await store.alarms.settleDeliveries([due[0]!.id], { at: 'now', error: 'HTTP 500', nextAt: 3000 });
      const again = await store.alarms.dueDeliveries(3000, 10);
      assert.deepEqual(
        again.map((d) => [d.attempts, d.lastError]),
        [[1, 'HTTP 500']],
      );
      await store.alarms.settleDeliveries([due[0]!.id], { at: 'now' });
      assert.equal(await store.alarms.nextDeliveryAt(), 5000);
      await store.alarms.deleteCallback(cb.id);
      assert.equal(await store.alarms.nextDeliveryAt(), undefined);
    } finally {
      await store.close();
    }
  });
}

describe('alarms on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('alarms on postgres', { skip: NEEDS_PG }, () => {
  after(async () => {
    await db?.drop();
  });
  let n = 0;
  behaves(async () => {
    // each test a database of its own: the tables start empty
    n += 1;
    const made = await testDatabase(`noops_al${n}`);
    const prev = db;
    db = made;
    if (prev) await prev.drop();
    return openStore(made.url);
  });
});
