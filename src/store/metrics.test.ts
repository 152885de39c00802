/**
 * Metric series, raw points and archives on both backends: SQLite in memory, and PostgreSQL when
 * NOOPS_TEST_PG_URL is set (a fresh `noops_metrics_<random>` database per test, dropped at the end).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { openStore } from './open.js';
import type { MetricSeriesRow, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const dbs: TestDatabase[] = [];

const series = (
  key: string,
  lastTs: number,
  lastValue: number,
  counterType: MetricSeriesRow['counterType'] = 'GAUGE',
): MetricSeriesRow => ({
  key,
  endpoint: key.split('/')[0]!,
  metric: key.split('/')[1]!,
  tags: '',
  counterType,
  step: 60,
  lastTs,
  lastValue,
  lastReceived: 1000,
});

function behaves(open: () => Promise<Store>): void {
  it('stores series and points; a series row keeps its newest point; points read back in id order, joined to their series', async () => {
    const store = await open();
    try {
      await store.putMetrics([series('h1/cpu.idle', 120, 5)], [{ key: 'h1/cpu.idle', ts: 120, value: 5, graphValue: 5, receivedAt: 1000 }]);
      await store.putMetrics([series('h1/cpu.idle', 60, 4)], [{ key: 'h1/cpu.idle', ts: 60, value: 4, graphValue: 4, receivedAt: 1001 }]);
      const [row] = await store.listMetricSeries();
      assert.deepEqual([row!.lastTs, row!.lastValue], [120, 5]);
      const read = await store.readMetricPoints(0, [], 10);
      assert.deepEqual(
        read.map((p) => [p.key, p.endpoint, p.metric, p.tags, p.counterType, p.step, p.timestamp, p.value, p.receivedAt]),
        [
          ['h1/cpu.idle', 'h1', 'cpu.idle', '', 'GAUGE', 60, 120, 5, 1000],
          ['h1/cpu.idle', 'h1', 'cpu.idle', '', 'GAUGE', 60, 60, 4, 1001],
        ],
      );
      assert.ok(read[0]!.id < read[1]!.id);
      assert.equal(await store.lastMetricPointId(), read[1]!.id);
      assert.deepEqual(
        (await store.readMetricPoints(read[1]!.id, [read[0]!.id], 10)).map((p) => p.id),
        [read[0]!.id],
        'a missing id is read again',
      );
      assert.deepEqual(await store.listMetricSeries({ endpoint: 'h2' }), []);
    } finally {
      await store.close();
    }
  });

  it('lists series in key order, after a key and at most a limit (pages)', async () => {
    const store = await open();
    try {
      await store.putMetrics(
        ['b/m', 'a/m', 'c/m', 'a/n', 'B/m'].map((k) => series(k, 60, 1)),
        [],
      );
      const keys = async (f: Parameters<Store['listMetricSeries']>[0]) => (await store.listMetricSeries(f)).map((s) => s.key);
      assert.deepEqual(await keys({}), ['B/m', 'a/m', 'a/n', 'b/m', 'c/m'], 'byte order on both backends');
      assert.deepEqual(await keys({ limit: 2 }), ['B/m', 'a/m']);
      assert.deepEqual(await keys({ after: 'a/m', limit: 2 }), ['a/n', 'b/m']);
      assert.deepEqual(await keys({ after: 'b/m' }), ['c/m']);
      assert.deepEqual(await keys({ after: 'c/m', limit: 2 }), []);
      assert.deepEqual(await keys({ after: 'a/m', metric: 'm' }), ['b/m', 'c/m']);
    } finally {
      await store.close();
    }
  });

  it('answers the last n points of many series, oldest first; raw points between two times', async () => {
    const store = await open();
    try {
      const points = [];
      for (const key of ['a/m', 'b/m'])
        for (let i = 1; i <= 5; i++) points.push({ key, ts: i * 60, value: i, graphValue: i, receivedAt: i });
      await store.putMetrics([series('a/m', 300, 5), series('b/m', 300, 5)], points);
      const last = await store.lastMetricPoints(['a/m', 'b/m', 'c/m'], 2);
      assert.deepEqual(
        last.map((p) => [p.key, p.timestamp]),
        [
          ['a/m', 240],
          ['a/m', 300],
          ['b/m', 240],
          ['b/m', 300],
        ],
      );
      assert.deepEqual(await store.metricPointsBetween('a/m', 120, 180), [
        { ts: 120, v: 2 },
        { ts: 180, v: 3 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('rolls raw points into archives (again when late points come) and those into coarser ones; prunes past retention', async () => {
    const store = await open();
    try {
      const pts = [0, 60, 120, 180, 240, 300, 360].map((ts, i) => ({ key: 'h/m', ts, value: i, graphValue: i, receivedAt: 0 }));
      await store.putMetrics([series('h/m', 360, 6)], pts);
      assert.equal(await store.rollUpMetrics(300, 'raw', 0, 600), 2);
      assert.deepEqual(
        (await store.metricRollupsBetween('h/m', 300, 0, 600)).map((r) => [r.ts, r.avg, r.min, r.max, r.count]),
        [
          [0, 2, 0, 4, 5],
          [300, 5.5, 5, 6, 2],
        ],
      );
      await store.putMetrics([series('h/m', 420, 10)], [{ key: 'h/m', ts: 420, value: 10, graphValue: 10, receivedAt: 0 }]);
      await store.rollUpMetrics(300, 'raw', 300, 600);
      await store.rollUpMetrics(1200, 300, 0, 1200);
      assert.deepEqual(
        (await store.metricRollupsBetween('h/m', 1200, 0, 1200)).map((r) => [r.ts, r.avg, r.min, r.max, r.count]),
        [[0, (0 + 1 + 2 + 3 + 4 + 5 + 6 + 10) / 8, 0, 10, 8]],
      );
      const dropped = await store.pruneMetrics(300, new Map([[300, 300]]));
      assert.equal(dropped, 5 + 1);
      assert.equal((await store.metricPointsBetween('h/m', 0, 1000)).length, 3);
    } finally {
      await store.close();
    }
  });

  it('rolls up a few series per statement and answers as one statement would, points without a series row too', async () => {
    const store = await open();
    try {
      // seven series and two keys with points but no series row: one before every series key, one after
      const keys = ['h0/m', 'h1/m', 'h2/m', 'h3/m', 'h4/m', 'h5/m', 'h6/m'];
      const points = [...keys, 'a/orphan', 'z/orphan'].flatMap((key, i) =>
        [0, 60, 300].map((ts) => ({ key, ts, value: i + ts, graphValue: i + ts, receivedAt: 0 })),
      );
      await store.putMetrics(
        keys.map((k) => series(k, 300, 0)),
        points,
      );
      const rolled = async (seriesPerStatement?: number) => {
        const n = await store.rollUpMetrics(300, 'raw', 0, 600, seriesPerStatement);
        const rows = await Promise.all([...keys, 'a/orphan', 'z/orphan'].map((k) => store.metricRollupsBetween(k, 300, 0, 600)));
        return { n, rows: rows.map((r) => r.map((b) => [b.ts, b.avg, b.min, b.max, b.count])) };
      };
      const whole = await rolled();
      assert.equal(whole.n, 9 * 2);
      for (const per of [1, 2, 3, 7, 100]) assert.deepEqual(await rolled(per), whole, `${per} series per statement`);
      assert.deepEqual(whole.rows[7], [
        [0, 7 + 30, 7, 7 + 60, 2],
        [300, 7 + 300, 7 + 300, 7 + 300, 1],
      ]);
      await assert.rejects(store.rollUpMetrics(300, 'raw', 0, 600, 0), /series per statement/);
    } finally {
      await store.close();
    }
  });
}

describe('metrics on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('metrics roll-ups on sqlite', () => {
  it('write each range of series in its own statement, with a turn of the event loop between them', async () => {
    const store = await openStore('sqlite::memory:');
    const inserts: string[] = [];
    const seen = (m: unknown) => {
      const { sql } = m as { sql: string };
      if (sql.startsWith('insert into metric_rollups')) inserts.push(sql);
    };
    subscribe('noops:store:statement', seen);
    try {
      const keys = ['h0/m', 'h1/m', 'h2/m', 'h3/m', 'h4/m', 'h5/m', 'h6/m'];
      await store.putMetrics(
        keys.map((k) => series(k, 0, 0)),
        keys.map((key) => ({ key, ts: 0, value: 1, graphValue: 1, receivedAt: 0 })),
      );
      // counts the turns of the event loop while the roll-up runs
      let turns = -1;
      let ticking: NodeJS.Immediate | undefined;
      const tick = () => {
        turns++;
        ticking = setImmediate(tick);
      };
      tick();
      try {
        assert.equal(await store.rollUpMetrics(300, 'raw', 0, 300, 3), 7);
      } finally {
        clearImmediate(ticking);
      }
      // [.., h3/m), [h3/m, h6/m), [h6/m, ..)
      assert.equal(inserts.length, 3);
      assert.ok(turns >= 2, `the event loop turned between the statements (${turns} turns)`);
    } finally {
      unsubscribe('noops:store:statement', seen);
      await store.close();
    }
  });
});

describe('metrics on postgres', { skip: NEEDS_PG }, () => {
  after(async () => {
    for (const db of dbs) await db.drop();
  });
  behaves(async () => {
    const db = await testDatabase('noops_metrics');
    dbs.push(db);
    return openStore(db.url);
  });
});
