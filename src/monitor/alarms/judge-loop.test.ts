/**
 * The judge loop on a real store (SQLite in memory) and a real HTTP callback, with a small judge
 * and strategy book: events stored, delivered in Falcon's fields, silenced, resumed by the next
 * leader, retried with backoff; nodata's mocks pushed while a series is silent.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seriesKey, type FalconPoint } from '../../api/index.js';
import { openStore } from '../../store/open.js';
import type { Store } from '../../store/index.js';
import type { JudgeEvent, JudgePoint, JudgeStrategy } from '../judge/types.js';
import type { FeedCursor, FeedPoint } from '../metrics/ports.js';
import { JudgeLoop } from './judge-loop.js';
import { callbackForm, owed } from './delivery.js';
import { dueMocks } from './nodata.js';
import type { JudgePort, NodataRulePort, PointFeedPort, SeenSeries, StrategyPort } from './ports.js';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Points in memory, the cursor an index. */
class MemFeed implements PointFeedPort {
  points: FeedPoint[] = [];
  add(endpoint: string, tags: string, timestamp: number, value: number): void {
    const key = seriesKey(endpoint, 'common.servicerunning', tags);
    this.points.push({
      id: this.points.length + 1,
      receivedAt: Date.now(),
      key,
      endpoint,
      metric: 'common.servicerunning',
      tags,
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
  async lastPoints(key: string, n: number) {
    return this.points.filter((p) => p.key === key).slice(-n);
  }
  async lastPointsMany(keys: readonly string[], n: number) {
    return new Map(keys.map((k) => [k, this.points.filter((p) => p.key === k).slice(-n)]));
  }
  async seriesSeen(): Promise<SeenSeries[]> {
    return [];
  }
}

/** all(#1) == 0: PROBLEM on every 0 (up to maxStep), OK on the first 1 after one. */
class TinyJudge implements JudgePort {
  last = new Map<string, JudgeEvent>();
  seen = new Map<string, number>();
  push(p: JudgePoint, _now: number, candidates: readonly JudgeStrategy[]): JudgeEvent[] {
    const key = seriesKey(p.endpoint, p.metric, p.tags);
    if ((this.seen.get(key) ?? 0) >= p.timestamp) return [];
    this.seen.set(key, p.timestamp);
    const out: JudgeEvent[] = [];
    for (const s of candidates) {
      const id = `e_${s.id}_${key}`;
      const last = this.last.get(id);
      let e: JudgeEvent | undefined;
      const base = {
        id,
        strategy: s,
        endpoint: p.endpoint,
        metric: p.metric,
        tags: p.tags,
        leftValue: p.value,
        eventTime: p.timestamp,
        priority: s.priority,
      };
      if (p.value === 0 && (!last || last.status === 'OK' || last.currentStep < s.maxStep))
        e = { ...base, status: 'PROBLEM', currentStep: last?.status === 'PROBLEM' ? last.currentStep + 1 : 1 };
      else if (p.value !== 0 && last?.status === 'PROBLEM') e = { ...base, status: 'OK', currentStep: 1 };
      if (e) {
        this.last.set(id, e);
        out.push(e);
      }
    }
    return out;
  }
  seed(): void {}
  seedLastEvent(e: JudgeEvent): void {
    this.last.set(e.id, e);
  }
}

const STRATEGY: JudgeStrategy = {
  id: '7',
  metric: 'common.servicerunning',
  tags: { cop: 'x' },
  func: 'all(#1)',
  op: '==',
  right: 0,
  maxStep: 3,
  priority: 2,
  note: 'down',
};

function book(over: Partial<StrategyPort> = {}): StrategyPort {
  return {
    forPoint: () => [STRATEGY],
    maintenance: () => undefined,
    nodataFor: () => undefined,
    nodataMetrics: () => [],
    nodeOf: () => 'cop.x',
    ...over,
  };
}

async function callbackServer(status: () => number): Promise<{ server: Server; url: string; calls: URLSearchParams[] }> {
  const calls: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const code = status();
      if (code === 200) calls.push(new URLSearchParams(body));
      res.writeHead(code).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`, calls };
}

const TAGS = 'cop=x,owt=y,process=web';

/** Every loop a test made: stopped after each test, even one that failed, so the file ends. */
const made: JudgeLoop[] = [];
afterEach(async () => {
  for (const loop of made.splice(0)) await loop.stop();
});

function loopOn(store: Store, feed: MemFeed, b: StrategyPort, judge: TinyJudge = new TinyJudge()): JudgeLoop {
  const loop = new JudgeLoop({
    store,
    feed,
    book: b,
    makeJudge: () => judge,
    ingest: { take: async () => undefined },
    remain: 3,
    log: () => undefined,
    fallbackMs: 20,
  });
  made.push(loop);
  return loop;
}

describe('judge loop', () => {
  it('a lease gained after stop (while the server closes) starts nothing: no deliverer, no judging', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const feed = new MemFeed();
      const loop = loopOn(store, feed, book());
      await loop.stop();
      await loop.lead(undefined);
      assert.equal(loop.leads(), false);
      assert.equal(loop.deliverer, undefined);
      feed.add('h1', TAGS, 100, 1);
      loop.wake();
      // a running loop reads the feed every 20 ms (fallbackMs): five periods judge nothing
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(loop.judged, 0);
    } finally {
      await store.close();
    }
  });

  it('stores PROBLEM and OK, and a callback receives both in Falcon fields; the next leader goes on from the cursor', async () => {
    const store = await openStore('sqlite::memory:');
    const cb = await callbackServer(() => 200);
    try {
      await store.alarms.addCallback({ url: cb.url, priority: null, createdBy: 't', createdAt: 'now' });
      const feed = new MemFeed();
      const loop = loopOn(store, feed, book());
      await loop.lead(undefined);
      feed.add('h1', TAGS, 100, 1);
      feed.add('h1', TAGS, 101, 0);
      loop.wake();
      await until('the PROBLEM delivered', () => cb.calls.length === 1);
      const p = cb.calls[0]!;
      assert.equal(p.get('status'), 'PROBLEM');
      assert.equal(p.get('endpoint'), 'h1');
      assert.equal(p.get('metric'), 'common.servicerunning');
      assert.equal(p.get('tags'), 'cop:x,owt:y,process:web');
      assert.equal(p.get('stra_id'), '7');
      assert.equal(p.get('step'), '1');
      assert.equal(p.get('priority'), '2');
      assert.equal(p.get('left_value'), '0');
      assert.equal(p.get('note'), 'down');
      assert.equal(p.get('time'), '1970-01-01 00:01:41');
      await loop.stop();

      // another leader: it goes on after the cursor, with the last event from the table
      const next = loopOn(store, feed, book());
      await next.lead(undefined);
      feed.add('h1', TAGS, 102, 1);
      next.wake();
      await until('the OK delivered', () => cb.calls.length === 2);
      assert.equal(cb.calls[1]!.get('status'), 'OK');
      assert.equal(next.judged, 1); // the points before its cursor were not judged again
      const all = await store.alarms.listEvents({ status: 'all', limit: 10 });
      assert.deepEqual(
        all.map((r) => [r.status, r.node, r.selector]),
        [
          ['OK', 'cop.x_owt.y', 'cop=x'],
          ['PROBLEM', 'cop.x_owt.y', 'cop=x'],
        ],
      );
      assert.deepEqual(await store.alarms.listEvents({ status: 'problem', limit: 10 }), []);
      await next.stop();
    } finally {
      cb.server.closeAllConnections();
      cb.server.close();
      await store.close();
    }
  });

  it('a silence or a maintenance window: stored, marked, not delivered', async () => {
    const store = await openStore('sqlite::memory:');
    const cb = await callbackServer(() => 200);
    try {
      await store.alarms.addCallback({ url: cb.url, priority: null, createdBy: 't', createdAt: 'now' });
      await store.alarms.addSilence({
        selector: 'cop.x_owt.y',
        until: '2999-01-01T00:00:00.000Z',
        reason: 'upgrade',
        createdBy: 't',
        createdAt: 'now',
      });
      const feed = new MemFeed();
      const loop = loopOn(
        store,
        feed,
        book({ maintenance: (endpoint) => (endpoint === 'h2' ? { until: '2999-01-01T00:00:00.000Z', reason: 'disk' } : undefined) }),
      );
      await loop.lead(undefined);
      feed.add('h1', TAGS, 100, 0);
      feed.add('h2', 'cop=x,owt=z', 100, 0);
      feed.add('h3', 'cop=x,owt=z', 100, 0);
      loop.wake();
      await until('three stored', async () => (await store.alarms.listEvents({ status: 'all', limit: 10 })).length === 3);
      await until('the one not silenced delivered', () => cb.calls.length === 1);
      assert.equal(cb.calls[0]!.get('endpoint'), 'h3');
      const rows = await store.alarms.listEvents({ status: 'all', limit: 10 });
      assert.deepEqual(
        rows.map((r) => [r.endpoint, r.silenced?.replace(/ until \S+Z/, '') ?? null]),
        [
          ['h3', null],
          ['h2', 'maintenance: disk'],
          ['h1', 'silence 1: upgrade'],
        ],
      );
      // the call is taken before its delivery is marked done: nothing is left owed once it is
      await until('nothing left to deliver', async () => (await store.alarms.nextDeliveryAt()) === undefined);
      await loop.stop();
    } finally {
      cb.server.closeAllConnections();
      cb.server.close();
      await store.close();
    }
  });

  it('a failing callback is tried again with backoff until it takes the call', async () => {
    const store = await openStore('sqlite::memory:');
    let failures = 1;
    const cb = await callbackServer(() => (failures-- > 0 ? 503 : 200));
    try {
      await store.alarms.addCallback({ url: cb.url, priority: null, createdBy: 't', createdAt: 'now' });
      const feed = new MemFeed();
      const loop = loopOn(store, feed, book());
      await loop.lead(undefined);
      feed.add('h1', TAGS, 100, 0);
      loop.wake();
      await until('delivered on the second try', () => cb.calls.length === 1, 8000);
      assert.equal(loop.deliverer?.counts.failed, 1);
      await loop.stop();
    } finally {
      cb.server.closeAllConnections();
      cb.server.close();
      await store.close();
    }
  });
});

describe('delivery', () => {
  const row = {
    id: 1,
    eventId: 'e',
    strategyId: '7',
    seriesKey: 'k',
    endpoint: 'h',
    metric: 'm',
    tags: '',
    node: 'cop.x',
    selector: 'cop=x',
    status: 'PROBLEM' as const,
    currentStep: 1,
    leftValue: 0.125,
    eventTime: 0,
    priority: 4,
    note: '',
    func: 'all(#1)',
    op: '==',
    right: 0,
    storedAt: '',
    acknowledgedBy: null,
    acknowledgedAt: null,
    silenced: null,
  };
  it('P0-P2 at once; P3 and lower merged per minute per strategy; a callback takes its priority and above', () => {
    const cbs = [
      { id: 1, url: 'u', priority: null, createdBy: '', createdAt: '' },
      { id: 2, url: 'v', priority: 2, createdBy: '', createdAt: '' },
    ];
    const now = 120_500;
    assert.deepEqual(owed([{ ...row, priority: 1 }], cbs, now), [
      { callbackId: 1, alarmId: 1, batch: null, nextAt: now },
      { callbackId: 2, alarmId: 1, batch: null, nextAt: now },
    ]);
    assert.deepEqual(owed([row, { ...row, id: 2 }], cbs, now), [
      { callbackId: 1, alarmId: 1, batch: '7@120000', nextAt: 180_000 },
      { callbackId: 1, alarmId: 2, batch: '7@120000', nextAt: 180_000 },
    ]);
    assert.deepEqual(owed([{ ...row, silenced: 'x' }], cbs, now), []);
  });
  it('a merged call repeats each field per event and counts them', () => {
    const form = callbackForm([row, { ...row, id: 2, endpoint: 'h2' }]);
    assert.deepEqual(form.getAll('endpoint'), ['h', 'h2']);
    assert.equal(form.get('count'), '2');
    assert.equal(form.get('left_value'), '0.125');
  });
});

describe('nodata', () => {
  const rule: NodataRulePort = { afterSeconds: 10, mock: -1, step: undefined };
  const ruleFor = (x: SeenSeries) => (x.tags === 'cop=x' ? rule : undefined);
  const s: SeenSeries = {
    key: 'h/m/cop=x',
    endpoint: 'h',
    metric: 'm',
    tags: 'cop=x',
    step: 5,
    counterType: 'GAUGE',
    lastTs: 100,
    lastValue: 1,
    lastReceived: 100_000,
  };
  it('pushes the mock once per step after `after` seconds of silence, and stops when heard again', () => {
    const pushed = new Map();
    assert.deepEqual(dueMocks([s], ruleFor, pushed, 109_000), []);
    const [m] = dueMocks([s], ruleFor, pushed, 111_000) as FalconPoint[];
    assert.deepEqual(m, { endpoint: 'h', metric: 'm', tags: 'cop=x', timestamp: 110, step: 5, value: -1, counterType: 'GAUGE' });
    assert.deepEqual(dueMocks([{ ...s, lastTs: 110, lastReceived: 111_000 }], ruleFor, pushed, 113_000), []); // this step has it
    assert.equal(dueMocks([{ ...s, lastTs: 110, lastReceived: 111_000 }], ruleFor, pushed, 115_000)[0]?.timestamp, 115);
    // a real point after the mocks: heard again, nothing until `after` passes anew
    assert.deepEqual(dueMocks([{ ...s, lastTs: 120, lastReceived: 120_000 }], ruleFor, pushed, 121_000), []);
    assert.deepEqual(dueMocks([{ ...s, tags: 'cop=y' }], ruleFor, new Map(), 200_000), []); // not under the rule's node
  });
});
