/** The store's history: the keeper rolls raw points into archives and prunes; queries answer from the right one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../store/open.js';
import type { FalconPoint } from '../../api/index.js';
import { MetricsIngest } from './ingest.js';
import { HistoryKeeper, StoreHistory } from './history.js';

const DAY = 86400;

test('raw points answer recent ranges; the keeper rolls them up, archives answer longer ones, retention drops old raw points', async () => {
  const store = await openStore('sqlite::memory:');
  const ingest = new MetricsIngest({ store });
  const now = 10 * DAY;
  try {
    // a gauge every 60 s for the last 14 h, value = minutes since its start
    const points: FalconPoint[] = [];
    const start = now - 14 * 3600;
    for (let ts = start; ts < now; ts += 60)
      points.push({
        endpoint: 'h1',
        metric: 'load.1min',
        timestamp: ts,
        step: 60,
        value: (ts - start) / 60,
        counterType: 'GAUGE',
        tags: '',
      });
    ingest.take(points, { kind: 'push', by: 'admin' });
    await ingest.flush();
    const history = new StoreHistory(store, 12 * 3600, () => now);
    const q = { key: 'h1/load.1min', endpoint: 'h1', metric: 'load.1min', tags: '', counterType: 'GAUGE' as const, step: 60 };
    const recent = await history.query({ ...q, from: now - 600, to: now });
    assert.equal(recent.resolution, 60);
    assert.deepEqual(recent.points[0], [now - 600, 830, 830, 830]);
    assert.equal(recent.points.length, 10);

    let clock = now;
    const keeper = new HistoryKeeper(store, { rawRetentionSeconds: 12 * 3600, nowSeconds: () => clock });
    const round = await keeper.runOnce();
    assert.equal(round.rolled[300], 12 * 12); // the raw points still kept: 12 h of 5-minute buckets
    assert.equal(round.pruned, 2 * 60); // the 2 h beyond raw retention
    const day = await history.query({ ...q, from: now - 12 * 3600, to: now, resolution: 300 });
    assert.equal(day.resolution, 300);
    assert.deepEqual(day.points[0], [now - 12 * 3600, 122, 120, 124]);
    // asked for more than an archive holds: re-bucketed from the coarsest finer one
    const hours = await history.query({ ...q, from: now - 12 * 3600, to: now, resolution: 3600 });
    assert.deepEqual(hours.points[0], [now - 12 * 3600, 149.5, 120, 179]);
    assert.equal(hours.points.length, 12);
    // a second round in the same bucket changes nothing but the current buckets
    const again = await keeper.runOnce();
    assert.ok(again.rolled[300]! <= 2, JSON.stringify(again));
    // the coarser archives wait for a bucket of their source to close
    assert.deepEqual([again.rolled[1200], again.rolled[10800], again.rolled[43200]], [0, 0, 0], JSON.stringify(again));
    ingest.take([{ endpoint: 'h1', metric: 'load.1min', timestamp: now, step: 60, value: 1000, counterType: 'GAUGE', tags: '' }], {
      kind: 'push',
      by: 'admin',
    });
    await ingest.flush();
    clock = now + 300;
    const next = await keeper.runOnce();
    assert.ok(next.rolled[1200]! >= 1, JSON.stringify(next));
    assert.equal(next.rolled[10800], 0, JSON.stringify(next));
    const coarse = await history.query({ ...q, from: now - 1200, to: now + 1200, resolution: 1200 });
    assert.deepEqual(coarse.points.at(-1), [now, 1000, 1000, 1000]);
  } finally {
    await ingest.close();
    await store.close();
  }
});

test('a COUNTER is answered as its rate per second', async () => {
  const store = await openStore('sqlite::memory:');
  const ingest = new MetricsIngest({ store });
  try {
    const c = (ts: number, value: number): FalconPoint => ({
      endpoint: 'h',
      metric: 'net.if.in.bytes',
      timestamp: ts,
      step: 60,
      value,
      counterType: 'COUNTER',
      tags: 'iface=eth0',
    });
    ingest.take([c(600, 0), c(660, 600), c(720, 1800)], { kind: 'push', by: 'admin' });
    await ingest.flush();
    const answer = await new StoreHistory(store, 3600, () => 800).query({
      key: 'h/net.if.in.bytes/iface=eth0',
      endpoint: 'h',
      metric: 'net.if.in.bytes',
      tags: 'iface=eth0',
      counterType: 'COUNTER',
      from: 0,
      to: 800,
      step: 60,
    });
    assert.deepEqual(answer, {
      resolution: 60,
      points: [
        [660, 10, 10, 10],
        [720, 20, 20, 20],
      ],
    });
  } finally {
    await ingest.close();
    await store.close();
  }
});
