/**
 * The judge loop's per-series cache of candidates, with the real Judge and StrategyBook on a real
 * store (SQLite in memory) and the in-process bus: a series judged once is cached, and a strategy
 * added, overridden by a lower node or removed afterwards changes what its next points meet.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seriesKey } from '../../api/index.js';
import { CHANNELS, LocalChangeBus } from '../../bus/index.js';
import type { AlarmEventRow, NewStrategy, Store } from '../../store/index.js';
import { openStore } from '../../store/open.js';
import { Judge } from '../judge/index.js';
import type { FeedCursor, FeedPoint, SeenSeries } from '../metrics/ports.js';
import { StrategyBook } from '../strategies/index.js';
import { CURSOR_META_KEY, JudgeLoop } from './judge-loop.js';
import type { PointFeedPort } from './ports.js';

const TAGS = 'cop=x,owt=y,process=web';
const METRIC = 'common.servicerunning';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Points in memory, the cursor an index. */
class MemFeed implements PointFeedPort {
  points: FeedPoint[] = [];
  add(timestamp: number, value: number): void {
    const key = seriesKey('h1', METRIC, TAGS);
    this.points.push({
      id: this.points.length + 1,
      receivedAt: Date.now(),
      key,
      endpoint: 'h1',
      metric: METRIC,
      tags: TAGS,
      counterType: 'GAUGE',
      step: 1,
      timestamp,
      value,
    });
  }
  async readSince(cursor: FeedCursor | undefined, limit = 5000) {
    const from = cursor?.after ?? 0;
    const points = this.points.slice(from, from + limit);
    return { points, cursor: { after: from + points.length, missing: [] } };
  }
  async head() {
    return { after: this.points.length, missing: [] };
  }
  async lastPoints() {
    return [];
  }
  async lastPointsMany() {
    return new Map<string, FeedPoint[]>();
  }
  async seriesSeen(): Promise<SeenSeries[]> {
    return [];
  }
}

function strategy(over: Partial<NewStrategy>): NewStrategy {
  return {
    node: 'cop.x',
    metric: METRIC,
    tags: '',
    func: 'all(#1)',
    op: '==',
    right: 0,
    maxStep: 99,
    priority: 2,
    note: '',
    runFrom: null,
    runTo: null,
    off: false,
    createdBy: 't',
    createdAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

describe('judge loop: candidates cached per series', () => {
  let store: Store;
  let bus: LocalChangeBus;
  let book: StrategyBook;
  let loop: JudgeLoop;
  let feed: MemFeed;
  let stored: AlarmEventRow[];

  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    bus = new LocalChangeBus();
    book = new StrategyBook({ store, bus, instances: () => [] });
    feed = new MemFeed();
    stored = [];
    loop = new JudgeLoop({
      store,
      feed,
      book: {
        forPoint: (p, now) => book.forPoint(p, now),
        candidatesOf: (p, now) => book.candidatesOf(p, now),
        generation: () => book.generation(),
        maintenance: (e, t, now) => book.maintenance(e, t, now),
        nodataFor: () => undefined,
        nodataMetrics: () => [],
        nodeOf: (id) => book.nodeOf(id),
      },
      // no repeats of a PROBLEM: each event below is a change of state
      makeJudge: () => new Judge({ remain: 3, minInterval: 1e12 }),
      ingest: { take: async () => undefined },
      remain: 3,
      log: () => undefined,
      fallbackMs: 20,
    });
    loop.on('stored', (rows) => stored.push(...rows));
  });
  afterEach(async () => {
    await loop.stop();
    book.close();
    await store.close();
  });

  /** Pushes one point and answers the events its batch stored, as `strategy status`. */
  const push = async (timestamp: number, value: number): Promise<string[]> => {
    const before = stored.length;
    feed.add(timestamp, value);
    loop.wake();
    // the batch's events and the cursor after it are written in one transaction
    const written = async () => JSON.parse((await store.getMeta(CURSOR_META_KEY)) ?? '{}').after === feed.points.length;
    await until(`the point at ${timestamp} judged and its batch written`, written);
    return stored.slice(before).map((r) => `${r.strategyId} ${r.status}`);
  };
  const changed = async (): Promise<void> => {
    await bus.publish(CHANNELS.strategies, '');
    await book.ready();
  };

  it('a strategy added, overridden below or removed after the series was cached changes what its points meet', async () => {
    const a = await store.addStrategy(strategy({}));
    await book.load();
    await loop.lead(undefined);
    assert.deepEqual(await push(100, 0), [`${a.id} PROBLEM`]);
    assert.deepEqual(await push(101, 0), []); // cached: the same strategy, no repeat

    // added at the same node after the series was cached: met from the next point on
    const b = await store.addStrategy(strategy({ op: '<', right: 1 }));
    await changed();
    assert.deepEqual(await push(102, 0), [`${b.id} PROBLEM`]);

    // a lower node's strategy for the same metric and tags replaces both
    const c = await store.addStrategy(strategy({ node: 'cop.x_owt.y', op: '<=', right: 0 }));
    await changed();
    assert.deepEqual(await push(103, 0), [`${c.id} PROBLEM`]);
    assert.deepEqual(await push(104, 1), [`${c.id} OK`]); // a and b are no longer judged: no OK of theirs

    // the override removed: a and b apply again
    await store.deleteStrategy(c.id);
    await changed();
    assert.deepEqual((await push(105, 1)).sort(), [`${a.id} OK`, `${b.id} OK`].sort());

    // removed: nothing is judged any more
    await store.deleteStrategy(a.id);
    await store.deleteStrategy(b.id);
    await changed();
    assert.deepEqual(await push(106, 0), []);
  });
});
