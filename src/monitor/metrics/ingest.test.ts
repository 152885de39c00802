/** MetricsIngest and the PointFeed on a real (SQLite, in memory) store, and the feed's cursor (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openStore } from '../../store/open.js';
import { LocalChangeBus, CHANNELS } from '../../bus/index.js';
import type { FalconPoint } from '../../api/index.js';
import { MetricsIngest } from './ingest.js';
import { advanceCursor, MISSING_WAIT_MS, StorePointFeed } from './feed.js';
import type { StoredPoint } from './ports.js';
import { Judge } from '../judge/index.js';
import { DEFAULT_JUDGE_CONFIG } from '../judge/types.js';
import { seriesKey } from '../../api/index.js';

const point = (over: Partial<FalconPoint> = {}): FalconPoint => ({
  endpoint: 'h1',
  metric: 'cpu.idle',
  timestamp: 1_700_000_041,
  step: 60,
  value: 5,
  counterType: 'GAUGE',
  tags: '',
  ...over,
});

test('take: refuses an agent point for another host, aligns to the step, drops not-newer points; flush stores, tells the bus and the sinks', async () => {
  const store = await openStore('sqlite::memory:');
  const bus = new LocalChangeBus();
  let told = 0;
  bus.subscribe(CHANNELS.points, { change: () => told++, resync: () => undefined });
  const sunk: StoredPoint[] = [];
  const ingest = new MetricsIngest({
    store,
    bus,
    sinks: [{ name: 'test', write: async (p) => void sunk.push(...p), query: async () => ({ resolution: 60, points: [] }) }],
    now: () => 5000,
  });
  try {
    const outcome = ingest.take(
      [point(), point({ endpoint: 'h2' }), point({ timestamp: 1_700_000_050 }), point({ timestamp: 1_700_000_105, value: 6 })],
      { kind: 'agent', host: 'h1' },
    );
    assert.deepEqual(outcome, { accepted: 2, stale: 1, refused: 1 });
    assert.deepEqual(
      ingest.latest().map((p) => [p.key, p.lastTs, p.lastValue, p.lastReceived]),
      [['h1/cpu.idle', 1_700_000_100, 6, 5000]],
    );
    await ingest.flush();
    assert.equal(told, 1);
    assert.deepEqual(
      sunk.map((p) => [p.timestamp, p.value]),
      [
        [1_700_000_040, 5],
        [1_700_000_100, 6],
      ],
    );
    const feed = new StorePointFeed(store);
    const { points, cursor } = await feed.readSince(undefined);
    assert.deepEqual(
      points.map((p) => [p.key, p.timestamp, p.value, p.receivedAt]),
      [
        ['h1/cpu.idle', 1_700_000_040, 5, 5000],
        ['h1/cpu.idle', 1_700_000_100, 6, 5000],
      ],
    );
    assert.deepEqual((await feed.readSince(cursor)).points, []);
    assert.deepEqual(await feed.readSince(await feed.head()).then((r) => r.points), []);
    ingest.take([point({ timestamp: 1_700_000_160, value: 7 })], { kind: 'push', by: 'admin' });
    await ingest.flush();
    assert.deepEqual(
      (await feed.readSince(cursor)).points.map((p) => p.value),
      [7],
    );
    assert.deepEqual(
      (await feed.lastPointsMany(['h1/cpu.idle'], 2)).get('h1/cpu.idle')?.map((p) => p.value),
      [6, 7],
    );
    assert.deepEqual(
      [...(await feed.lastPointsMany(['h1/cpu.idle', 'nope'], 1)).entries()].map(([k, v]) => [k, v.map((p) => p.value)]),
      [['h1/cpu.idle', [7]]],
    );
    const [seen] = await feed.seriesSeen();
    assert.deepEqual(seen, {
      key: 'h1/cpu.idle',
      endpoint: 'h1',
      metric: 'cpu.idle',
      tags: '',
      step: 60,
      counterType: 'GAUGE',
      lastTs: 1_700_000_160,
      lastValue: 7,
      lastReceived: 5000,
    });
    // a restarted server knows the stored series' last points: a repeated report is dropped
    const again = new MetricsIngest({ store });
    await again.load();
    assert.deepEqual(again.take([point({ timestamp: 1_700_000_160, value: 7 })], { kind: 'nodata' }), {
      accepted: 0,
      stale: 1,
      refused: 0,
    });
    await again.close();
  } finally {
    await ingest.close();
    await store.close();
  }
});

test('COUNTER and DERIVE are stored with their rate per second (none for the first point or a reset)', async () => {
  const store = await openStore('sqlite::memory:');
  const ingest = new MetricsIngest({ store });
  try {
    const c = (ts: number, value: number) => point({ metric: 'net.if.in.bytes', counterType: 'COUNTER', timestamp: ts, value });
    ingest.take([c(60, 100), c(120, 700), c(180, 100), c(240, 160)], { kind: 'push', by: 'admin' });
    await ingest.flush();
    assert.deepEqual(await store.metricPointsBetween('h1/net.if.in.bytes', 0, 1000), [
      { ts: 120, v: 10 },
      { ts: 240, v: 1 },
    ]);
  } finally {
    await ingest.close();
    await store.close();
  }
});

test('a failed store write keeps its points for the next flush', async () => {
  let fail = true;
  const stored: number[] = [];
  const lines: string[] = [];
  const ingest = new MetricsIngest({
    store: {
      listMetricSeries: async () => [],
      putMetrics: async (_s, points) => {
        if (fail) throw new Error('database down');
        stored.push(...points.map((p) => p.value));
      },
    },
    log: (l) => lines.push(l),
  });
  ingest.take([point({ value: 1 })], { kind: 'nodata' });
  await ingest.flush();
  assert.equal(ingest.counters.failedWrites, 1);
  assert.match(lines[0]!, /database down/);
  fail = false;
  ingest.take([point({ value: 2, timestamp: 1_700_000_200 })], { kind: 'nodata' });
  await ingest.close();
  assert.deepEqual(stored, [1, 2]);
});

test('the cursor remembers ids it jumped over until they come or wait too long', () => {
  let c = advanceCursor({ after: 10, missing: [] }, [11, 14], 0);
  assert.deepEqual(c, {
    after: 14,
    missing: [
      { id: 12, since: 0 },
      { id: 13, since: 0 },
    ],
  });
  c = advanceCursor(c, [12, 15], 100);
  assert.deepEqual(c, { after: 15, missing: [{ id: 13, since: 0 }] });
  c = advanceCursor(c, [], MISSING_WAIT_MS);
  assert.deepEqual(c, { after: 15, missing: [] });
});

test("the series' strings are kept once: each report's parsed copies of the key, endpoint, metric and tags are not held", async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // no store write while the test measures: the points wait in memory (flushed at the end)
  const store = await openStore('sqlite::memory:');
  const ingest = new MetricsIngest({ store, now: () => 5000, flushMs: 3_600_000 });
  const tags = Array.from({ length: 80 }, (_, i) => `level${i}=${'v'.repeat(20)}`).join(','); // 2 KB
  const hosts = 1000;
  /** Each report's points parsed from its JSON, as the route takes them: new strings every time. */
  const report = (round: number): void => {
    for (let h = 0; h < hosts; h++) {
      const json = JSON.stringify([
        point({ endpoint: `host-${h}`, metric: 'common.service.cpu', tags, timestamp: 1_699_999_980 + 60 * round }),
      ]);
      ingest.take(JSON.parse(json) as FalconPoint[], { kind: 'push', by: 'test' });
    }
  };
  try {
    report(0);
    await ingest.flush();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 1; round <= 3; round++) {
      report(round);
      await ingest.flush(); // the points stored: only the series' latest stays in memory
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // a copy of the key (2 KB with its tags) and of the tags per series held would be 4 MB
    assert.ok(grown < 1024 * 1024, `the heap grew by ${Math.round(grown / 1024)} KB over three reports of ${hosts} series`);
    assert.equal(ingest.latest().length, hosts);
    assert.ok(ingest.latest().every((p) => p.tags === tags && p.lastTs === 1_699_999_980 + 180));
  } finally {
    await ingest.close();
    await store.close();
  }
});

test("a judge given the ingestion's keys holds them, not a copy of each series' key", async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const store = await openStore('sqlite::memory:');
  const ingest = new MetricsIngest({ store, now: () => 5000, flushMs: 3_600_000 });
  const tags = Array.from({ length: 40 }, (_, i) => `level${i}=${'v'.repeat(20)}`).join(','); // 1 KB
  const hosts = 2000;
  try {
    for (let h = 0; h < hosts; h++)
      ingest.take([point({ endpoint: `host-${h}`, metric: 'common.service.cpu', tags })], { kind: 'push', by: 'test' });
    await ingest.flush();
    /** The heap a judge grows by when it meets every series by a key read back (new strings, as the feed's rows are). */
    const grownBy = (judge: Judge): number => {
      const keys = ingest.latest().map((p) => JSON.parse(JSON.stringify(p.key)) as string);
      gc();
      const before = process.memoryUsage().heapUsed;
      for (const key of keys) judge.seriesId(key);
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      assert.equal(judge.series, keys.length);
      return grown;
    };
    const own = new Judge(DEFAULT_JUDGE_CONFIG, { expectedSeries: hosts });
    const shared = new Judge(DEFAULT_JUDGE_CONFIG, { expectedSeries: hosts, keptKey: (key) => ingest.keptKey(key) });
    const copies = grownBy(own);
    const kept = grownBy(shared);
    // a copy of each 1 KB key is 2 MB; the judge's Map of 2,000 entries a few tens of KB
    assert.ok(copies > 1.5 * 1024 * 1024, `a judge of its own keeps copies: ${Math.round(copies / 1024)} KB`);
    assert.ok(kept < 512 * 1024, `the judge grew by ${Math.round(kept / 1024)} KB holding the ingestion's keys`);
    assert.equal(
      shared.seriesId(seriesKey('host-7', 'common.service.cpu', tags)),
      own.seriesId(seriesKey('host-7', 'common.service.cpu', tags)),
    );
    assert.equal(ingest.keptKey('host-x/none'), undefined, 'a series it does not hold');
  } finally {
    await ingest.close();
    await store.close();
  }
});
