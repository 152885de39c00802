/**
 * The judge loop's per-point path by the store's series id: a batch fed with ids sends what the
 * same batch fed by keys sends; the loop on a real store (SQLite, and PostgreSQL when
 * NOOPS_TEST_PG_URL is set: both feeds give ids) sends, across a takeover by a second loop,
 * exactly the events of one judge fed every point by key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seriesKey } from '../../api/index.js';
import type { MetricSeriesRow, Store } from '../../store/index.js';
import { openStore } from '../../store/open.js';
import { NEEDS_PG, testDatabase } from '../../store/test-pg.js';
import { Judge, type JudgeEvent, type JudgeStrategy } from '../judge/index.js';
import { StorePointFeed } from '../metrics/feed.js';
import type { FeedPoint } from '../metrics/ports.js';
import { type GenerationalBook, judgeBatch, SeededSeries, SeriesCandidates } from './judge-batch.js';
import { CURSOR_META_KEY, JudgeLoop } from './judge-loop.js';
import type { StrategyPort } from './ports.js';

const TAGS = 'app=web,cop=x';
const HOSTS = ['h1', 'h2', 'h3', 'h4'];
const NOW_MS = 1_800_000_000_000;
const STRATEGIES: JudgeStrategy[] = [
  { id: 'max', metric: 'cpu', tags: { app: 'web' }, func: 'max(#3)', op: '>', right: 90, maxStep: 3, priority: 1 },
  { id: 'all', metric: 'cpu', tags: { cop: 'x' }, func: 'all(#2)', op: '>', right: 50, maxStep: 2, priority: 2 },
];

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const valueAt = (h: number, minute: number): number => ((minute * 37 + h * 53) % 100) + (minute % 7 === 0 ? 5 : 0);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function feedPoint(h: number, minute: number, seriesId: number | undefined): FeedPoint {
  const endpoint = HOSTS[h]!;
  return {
    id: 0,
    key: seriesKey(endpoint, 'cpu', TAGS),
    endpoint,
    metric: 'cpu',
    tags: TAGS,
    counterType: 'GAUGE',
    step: 60,
    timestamp: 60 * minute,
    value: valueAt(h, minute),
    receivedAt: 0,
    seriesId,
  };
}

const book: GenerationalBook & StrategyPort = {
  forPoint: () => STRATEGIES,
  candidatesOf: () => ({ strategies: STRATEGIES, holds: true }),
  generation: () => 0,
  maintenance: () => undefined,
  nodataFor: () => undefined,
  nodataMetrics: () => [],
  nodeOf: () => 'cop.x',
};

const brief = (e: {
  strategyId?: string;
  strategy?: JudgeStrategy;
  status: string;
  currentStep: number;
  eventTime: number;
  seriesKey?: string;
  endpoint: string;
}) => `${e.strategyId ?? e.strategy!.id} ${e.endpoint} ${e.status} ${e.currentStep} @${e.eventTime}`;

/** One judge, every point of `minutes` by key, at the loop's clock. */
function reference(minutes: number[]): JudgeEvent[] {
  const j = new Judge({ remain: 11, minInterval: 120 });
  const out: JudgeEvent[] = [];
  for (const m of minutes)
    for (let h = 0; h < HOSTS.length; h++) out.push(...j.push(feedPoint(h, m, undefined), NOW_MS / 1000, STRATEGIES));
  return out;
}

describe('judge loop by store series id', () => {
  it('judgeBatch: points with ids send what the same points by key send', () => {
    const run = (withIds: boolean): JudgeEvent[] => {
      const judge = new Judge({ remain: 11, minInterval: 120 });
      const kept = new SeriesCandidates();
      const events: JudgeEvent[] = [];
      for (const m of range(1, 120)) {
        const batch = HOSTS.map((_, h) => feedPoint(h, m, withIds ? 10 + h : undefined));
        judgeBatch(judge, book, batch, kept, () => NOW_MS, events);
      }
      return events;
    };
    const byKey = run(false);
    assert.ok(byKey.length > 10);
    assert.deepEqual(run(true), byKey);
    assert.deepEqual(byKey, reference(range(1, 120)));
  });

  it('SeededSeries: a series met by id is known by id, one without by key', () => {
    const seeded = new SeededSeries();
    assert.equal(seeded.has(5, 'a'), false);
    seeded.add(5, 'a');
    assert.equal(seeded.has(5, 'whatever the key'), true);
    assert.equal(seeded.has(6, 'a'), false);
    seeded.add(undefined, 'b');
    assert.equal(seeded.has(undefined, 'b'), true);
    assert.equal(seeded.has(9, 'b'), true, 'met by key before its id');
    seeded.add(2 ** 40, 'c');
    assert.equal(seeded.has(2 ** 40, 'c'), true, 'an id too far to index: by key');
  });

  it('on SQLite (ids from the store), a takeover by a second loop sends what one judge would', async () => {
    await takeover(await openStore('sqlite::memory:'));
  });

  it('on PostgreSQL (ids from the store), a takeover by a second loop sends what one judge would', { skip: NEEDS_PG }, async () => {
    const db = await testDatabase('noops_judge_ids');
    try {
      await takeover(await openStore(db.url));
    } finally {
      await db.drop();
    }
  });
});

/**
 * Two judge loops on `store`, one after the other (a takeover), fed by the store's feed: every
 * point carries its series' id, and the events are those of one judge fed every point by key.
 */
async function takeover(store: Store): Promise<void> {
  const feed = new StorePointFeed(store);
  const stored: string[] = [];
  const put = async (minutes: number[]): Promise<void> => {
    for (const m of minutes) {
      const series: MetricSeriesRow[] = HOSTS.map((endpoint, h) => ({
        key: seriesKey(endpoint, 'cpu', TAGS),
        endpoint,
        metric: 'cpu',
        tags: TAGS,
        counterType: 'GAUGE',
        step: 60,
        lastTs: 60 * m,
        lastValue: valueAt(h, m),
        lastReceived: 0,
      }));
      const points = series.map((s) => ({ key: s.key, ts: s.lastTs, value: s.lastValue, graphValue: s.lastValue, receivedAt: 0 }));
      await store.putMetrics(series, points);
    }
  };
  const loop = (): JudgeLoop => {
    const l = new JudgeLoop({
      store,
      feed,
      book,
      makeJudge: () => new Judge({ remain: 11, minInterval: 120 }),
      ingest: { take: () => undefined },
      remain: 11,
      log: () => undefined,
      now: () => NOW_MS,
      fallbackMs: 10,
    });
    l.on('stored', (rows) => stored.push(...rows.map(brief)));
    return l;
  };
  const judgedUpTo = async (): Promise<boolean> =>
    JSON.parse((await store.getMeta(CURSOR_META_KEY)) ?? '{"after":0}').after === (await store.lastMetricPointId());
  try {
    const first = loop();
    await first.lead(undefined);
    // the store gives each series one id, the same on every read
    await put([1]);
    const read = await feed.readSince(undefined);
    const ids = read.points.map((p) => p.seriesId);
    assert.ok(ids.every((id) => typeof id === 'number'));
    assert.equal(new Set(ids).size, HOSTS.length);
    const idOf = new Map(read.points.map((p) => [p.key, p.seriesId]));
    await put(range(2, 60));
    first.wake();
    await until('the first leader judged every point', judgedUpTo);
    await first.stop();
    const second = loop();
    await second.lead(undefined);
    await put(range(60, 130));
    second.wake();
    await until('the second leader judged every point', judgedUpTo);
    await second.stop();
    assert.equal(first.judged + second.judged, 129 * HOSTS.length);
    const expected = reference(range(1, 130)).map(brief);
    assert.ok(expected.length > 10);
    assert.deepEqual(stored, expected);
    const all = (await feed.readSince(undefined, 129 * HOSTS.length)).points;
    assert.equal(all.length, 129 * HOSTS.length);
    for (const p of all) assert.equal(p.seriesId, idOf.get(p.key), 'every point of a series carries its one id');
  } finally {
    await store.close();
  }
}
