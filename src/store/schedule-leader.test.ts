/**
 * What the scheduler loop's leader keeps in the store (0025_schedule_leader), on SQLite in memory
 * and on PostgreSQL when NOOPS_TEST_PG_URL is set: the vacating hosts of the migration budget, and
 * rebalance requests carried out once or cancelled.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { Store } from './index.js';
import { REBALANCE_REQUESTS_KEPT_MS } from './schedule-leader.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const AT = '2026-12-04T10:00:00.000Z';
const RESULT = { moves: [{ tag: 'cop.a_cluster.c', from: 'h1', to: 'h2', reason: 'free host h1' }], freedHosts: ['h1'] };

function behaves(open: () => Promise<Store>): void {
  it('vacating hosts: added once (the first time kept), forgotten, read by every store', async () => {
    const store = await open();
    try {
      assert.deepEqual(await store.schedule.listVacating(), []);
      await store.schedule.setVacating(
        [
          { host: 'h2', since: AT },
          { host: 'h1', since: AT },
        ],
        [],
      );
      await store.schedule.setVacating([{ host: 'h1', since: '2026-12-04T10:00:30.000Z' }], []);
      assert.deepEqual(await store.schedule.listVacating(), [
        { host: 'h1', since: AT },
        { host: 'h2', since: AT },
      ]);
      await store.tx((s) => s.schedule.setVacating([{ host: 'h3', since: AT }], ['h1', 'h9']));
      assert.deepEqual(
        (await store.schedule.listVacating()).map((v) => v.host),
        ['h2', 'h3'],
      );
    } finally {
      await store.close();
    }
  });

  it('a rebalance request is carried out once, or cancelled; never both', async () => {
    const store = await open();
    try {
      const a = await store.schedule.addRebalanceRequest({ at: AT, actor: 'admin', maxMoves: 5, movable: null });
      const b = await store.schedule.addRebalanceRequest({ at: AT, actor: 'web-team', maxMoves: 2, movable: ['cop.a_cluster.c'] });
      assert.deepEqual(
        (await store.schedule.pendingRebalanceRequests()).map((r) => [r.id, r.actor, r.maxMoves, r.movable, r.status]),
        [
          [a, 'admin', 5, null, 'pending'],
          [b, 'web-team', 2, ['cop.a_cluster.c'], 'pending'],
        ],
      );
      assert.equal(await store.schedule.finishRebalanceRequest(a, RESULT, AT), true);
      assert.equal(await store.schedule.finishRebalanceRequest(a, { moves: [], freedHosts: [] }, AT), false, 'done once');
      assert.equal(await store.schedule.cancelRebalanceRequest(a, AT), false, 'a request done is not cancelled');
      const done = await store.schedule.getRebalanceRequest(a);
      assert.deepEqual([done?.status, done?.result, done?.doneAt], ['done', RESULT, AT]);
      assert.equal(await store.schedule.cancelRebalanceRequest(b, AT), true);
      assert.equal(await store.schedule.finishRebalanceRequest(b, RESULT, AT), false, 'a cancelled request is not carried out');
      assert.deepEqual(await store.schedule.pendingRebalanceRequests(), []);
      assert.equal(await store.schedule.getRebalanceRequest(b + 100), undefined);
      // ended requests older than REBALANCE_REQUESTS_KEPT_MS are swept when the next is asked
      const later = new Date(Date.parse(AT) + REBALANCE_REQUESTS_KEPT_MS + 1000).toISOString();
      await store.schedule.addRebalanceRequest({ at: later, actor: 'admin', maxMoves: 1, movable: null });
      assert.equal(await store.schedule.getRebalanceRequest(a), undefined);
    } finally {
      await store.close();
    }
  });
}

describe('the schedule leader state on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('the schedule leader state on postgres', { skip: NEEDS_PG }, () => {
  const made: TestDatabase[] = [];
  after(async () => {
    await Promise.all(made.map((d) => d.drop()));
  });
  behaves(async () => {
    const db = await testDatabase('noops_schedlead');
    made.push(db);
    return openStore(db.url);
  });
});
