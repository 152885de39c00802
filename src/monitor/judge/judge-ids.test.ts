/**
 * The judge's series by the store's series id (`seriesOf`): judged exactly as by key, an id met
 * first finds its series by key (one met by key before, or seeded after a takeover), and an id
 * it cannot index goes through the key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seriesKey } from '../../api/index.js';
import { Judge } from './judge.js';
import type { JudgeEvent, JudgePoint, JudgeStrategy } from './types.js';

const HOSTS = ['h1', 'h2', 'h3'];
const TAGS = 'app=web,cop=x';

const STRATEGIES: JudgeStrategy[] = [
  { id: 'max', metric: 'cpu', tags: { app: 'web' }, func: 'max(#3)', op: '>', right: 90, maxStep: 3, priority: 1 },
  { id: 'all', metric: 'cpu', tags: { cop: 'x' }, func: 'all(#2)', op: '>', right: 50, maxStep: 2, priority: 2 },
  { id: 'host', metric: 'cpu', tags: {}, endpoint: 'h2', func: 'diff(#1)', op: '>', right: 30, maxStep: 5, priority: 3 },
];

function point(host: string, timestamp: number, value: number): JudgePoint {
  return { endpoint: host, metric: 'cpu', tags: TAGS, counterType: 'GAUGE', timestamp, value };
}

/** A value per host and minute that crosses every threshold now and then (deterministic). */
function valueAt(h: number, minute: number): number {
  return ((minute * 37 + h * 53) % 100) + (minute % 7 === 0 ? 5 : 0);
}

/** Every point of `minutes`, host by host, as a feed gives them. */
function* points(minutes: number[]): Generator<{ p: JudgePoint; key: string; id: number }> {
  for (const m of minutes) {
    for (let h = 0; h < HOSTS.length; h++) {
      const p = point(HOSTS[h]!, 60 * m, valueAt(h, m));
      yield { p, key: seriesKey(p.endpoint, p.metric, p.tags), id: 100 + h };
    }
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function byKey(j: Judge, minutes: number[]): JudgeEvent[] {
  const out: JudgeEvent[] = [];
  for (const { p, key } of points(minutes)) out.push(...j.push({ ...p }, p.timestamp, STRATEGIES, key));
  return out;
}

function byId(j: Judge, minutes: number[]): JudgeEvent[] {
  const out: JudgeEvent[] = [];
  for (const { p, key, id } of points(minutes)) out.push(...j.pushSeries(j.seriesOf(id, key), key, { ...p }, p.timestamp, STRATEGIES));
  return out;
}

test('a series fed by its store id is judged exactly as one fed by its key', () => {
  const keyed = new Judge({ remain: 11, minInterval: 120 });
  const ided = new Judge({ remain: 11, minInterval: 120 });
  const expected = byKey(keyed, range(1, 200));
  const got = byId(ided, range(1, 200));
  assert.ok(expected.length > 20, `the sequence sends events (${expected.length})`);
  assert.ok(new Set(expected.map((e) => e.status)).size === 2, 'PROBLEM and OK');
  assert.deepEqual(got, expected);
  assert.equal(ided.series, keyed.series);
  assert.equal(ided.lastEvents, keyed.lastEvents);
  for (const h of HOSTS) {
    const key = seriesKey(h, 'cpu', TAGS);
    for (const s of STRATEGIES)
      assert.deepEqual(ided.lastEvent(s.id, s.endpoint !== undefined, key), keyed.lastEvent(s.id, s.endpoint !== undefined, key));
  }
});

test('an id met first is found by its key: a series met by key before is the same series', () => {
  const j = new Judge();
  const only = [STRATEGIES[1]!];
  const key = seriesKey('h1', 'cpu', TAGS);
  assert.deepEqual(j.push(point('h1', 60, 99), 60, only, key), []);
  const s = j.seriesOf(7, key);
  assert.equal(s, j.seriesId(key));
  assert.equal(j.seriesOf(7, key), s, 'known by id from now on');
  assert.equal(j.series, 1);
  // not newer than what was pushed by key: dropped; the next one completes all(#2)
  assert.deepEqual(j.pushSeries(s, key, point('h1', 60, 99), 60, only), []);
  assert.deepEqual(
    j.pushSeries(s, key, point('h1', 120, 99), 120, only).map((e) => `${e.id} ${e.status}`),
    [`e_all_${key} PROBLEM`],
  );
  // another id, another series; the first id's series is unchanged
  const other = j.seriesOf(8, seriesKey('h2', 'cpu', TAGS));
  assert.notEqual(other, s);
  assert.equal(j.seriesOf(7, key), s);
});

test('an id the judge cannot index (not whole, negative, far beyond) goes through the key each time', () => {
  const j = new Judge();
  const key = seriesKey('h1', 'cpu', TAGS);
  const s = j.seriesId(key);
  const before = j.slabBytes();
  for (const id of [-1, 1.5, Number.NaN, 2 ** 40]) assert.equal(j.seriesOf(id, key), s);
  assert.equal(j.slabBytes(), before, 'no room made for such ids');
  assert.equal(j.series, 1);
});

test('after a takeover (seed, seedLastEvent by key), points by id go on as one judge would', () => {
  const whole = new Judge({ remain: 11, minInterval: 120 });
  const expected = byKey(whole, range(1, 160));
  // the first leader judged up to minute 80, then the lease moved
  const first = new Judge({ remain: 11, minInterval: 120 });
  const sentBefore = byKey(first, range(1, 80));
  assert.deepEqual(sentBefore, expected.slice(0, sentBefore.length));
  // the next leader: the last event of each strategy and series (the alarms table), the last points of each series (the store)
  const next = new Judge({ remain: 11, minInterval: 120 });
  const last = new Map<string, JudgeEvent>();
  for (const e of sentBefore) last.set(`${e.id}`, e);
  for (const e of last.values()) next.seedLastEvent(e);
  for (let h = 0; h < HOSTS.length; h++) {
    next.seed(
      seriesKey(HOSTS[h]!, 'cpu', TAGS),
      range(69, 80).map((m) => point(HOSTS[h]!, 60 * m, valueAt(h, m))),
    );
  }
  assert.deepEqual(byId(next, range(80, 160)), expected.slice(sentBefore.length));
  assert.equal(next.series, HOSTS.length);
});
