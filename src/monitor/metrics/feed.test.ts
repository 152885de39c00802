/**
 * The feed after a PostgreSQL commit race: a point whose id is lower than one already read
 * commits later, and the next read still delivers it (NOOPS_TEST_PG_URL; its own database).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openStore } from '../../store/open.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../../store/test-pg.js';
import { StorePointFeed } from './feed.js';

let db: TestDatabase | undefined;
after(async () => {
  await db?.drop();
});

test('a lower id committed after a higher one was read is delivered by the next read', { skip: NEEDS_PG }, async () => {
  db = await testDatabase('noops_feed');
  const store = await openStore(db.url);
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  try {
    const series = {
      key: 'h/m',
      endpoint: 'h',
      metric: 'm',
      tags: '',
      counterType: 'GAUGE' as const,
      step: 60,
      lastTs: 60,
      lastValue: 1,
      lastReceived: 0,
    };
    await store.putMetrics([series], [{ key: 'h/m', ts: 60, value: 1, graphValue: 1, receivedAt: 0 }]);
    const feed = new StorePointFeed(store);
    const first = await feed.readSince(undefined);
    assert.deepEqual(
      first.points.map((p) => p.value),
      [1],
    );
    // another server's batch takes an id and has not committed yet
    await other.query('begin');
    await other.query("insert into metric_points (key, ts, value, graph_value, received_at) values ('h/m', 120, 2, 2, 0)");
    await store.putMetrics([], [{ key: 'h/m', ts: 180, value: 3, graphValue: 3, receivedAt: 0 }]);
    const second = await feed.readSince(first.cursor);
    assert.deepEqual(
      second.points.map((p) => p.value),
      [3],
    );
    assert.equal(second.cursor.missing.length, 1, 'the id jumped over is remembered');
    await other.query('commit');
    const third = await feed.readSince(second.cursor);
    assert.deepEqual(
      third.points.map((p) => p.value),
      [2],
    );
    assert.deepEqual(third.cursor.missing, []);
    assert.deepEqual((await feed.readSince(third.cursor)).points, []);
  } finally {
    await other.end();
    await store.close();
  }
});
