import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Judge } from './judge.js';
import type { JudgeEvent, JudgePoint, JudgeStrategy } from './types.js';

function strategy(over: Partial<JudgeStrategy> = {}): JudgeStrategy {
  return { id: '1', metric: 'cpu.idle', tags: {}, endpoint: 'h1', func: 'all(#3)', op: '<', right: 5, maxStep: 3, priority: 2, ...over };
}

function point(timestamp: number, value: number, over: Partial<JudgePoint> = {}): JudgePoint {
  return { endpoint: 'h1', metric: 'cpu.idle', tags: '', counterType: 'GAUGE', timestamp, value, ...over };
}

/** What the tests compare of an event. */
function brief(e: JudgeEvent): string {
  return `${e.id} ${e.status} ${e.currentStep} ${e.leftValue} @${e.eventTime} P${e.priority}`;
}

/** Pushes [ts, value] pairs (now = ts + lag) and returns every event sent, briefly. */
function feed(judge: Judge, candidates: JudgeStrategy[], pairs: [number, number][], lag = 0, over: Partial<JudgePoint> = {}): string[] {
  const out: string[] = [];
  for (const [ts, v] of pairs) for (const e of judge.push(point(ts, v, over), ts + lag, candidates)) out.push(brief(e));
  return out;
}

test('not enough data judges nothing; the first point of a new series is judged', () => {
  const j = new Judge();
  assert.deepEqual(
    feed(
      j,
      [strategy()],
      [
        [60, 1],
        [120, 1],
      ],
    ),
    [],
  );
  const first = new Judge();
  assert.deepEqual(feed(first, [strategy({ func: 'all(#1)' })], [[60, 1]]), ['s_1_h1/cpu.idle PROBLEM 1 1 @60 P2']);
});

test('a point not newer than the newest kept, or not above 0, is dropped and not judged', () => {
  const j = new Judge();
  const s = [strategy({ func: 'all(#1)', maxStep: 100 })];
  assert.deepEqual(feed(j, s, [[600, 9]]), []);
  // same timestamp, an older one, zero and negative: dropped (a PROBLEM would follow otherwise)
  assert.deepEqual(
    feed(j, s, [
      [600, 1],
      [540, 1],
      [0, 1],
      [-60, 1],
    ]),
    [],
  );
  assert.deepEqual(feed(j, s, [[660, 1]]), ['s_1_h1/cpu.idle PROBLEM 1 1 @660 P2']);
});

test('PROBLEM, repeats up to maxStep spaced by minInterval from the last data time and by unused points, then OK', () => {
  const j = new Judge({ remain: 11, minInterval: 300 });
  const s = [strategy({ maxStep: 2 })];
  const got = feed(j, s, [
    [60, 1],
    [120, 1],
    [180, 1], // PROBLEM 1
    [240, 1], // oldest point used (120) <= 180: not again
    [300, 1], // oldest 180 <= 180
    [360, 1], // oldest 240 > 180, but now 360 - 180 < 300
    [420, 1], // 420 - 180 < 300
    [480, 1], // 480 - 180 = 300: PROBLEM 2
    [1200, 1], // maxStep reached
    [1260, 50], // recovers: OK 1
    [1320, 50], // nothing
    [1380, 1],
    [1440, 1],
    [1500, 1], // PROBLEM 1 again
  ]);
  assert.deepEqual(got, [
    's_1_h1/cpu.idle PROBLEM 1 1 @180 P2',
    's_1_h1/cpu.idle PROBLEM 2 1 @480 P2',
    's_1_h1/cpu.idle OK 1 50 @1260 P2',
    's_1_h1/cpu.idle PROBLEM 1 1 @1500 P2',
  ]);
});

test('minInterval is measured from the last event data time, not the clock: no point is judged twice', () => {
  const j = new Judge({ remain: 11, minInterval: 300 });
  const s = [strategy({ maxStep: 10 })];
  // the clock runs far ahead of the data (a late batch): minInterval always passes, yet each
  // PROBLEM needs three points the last one did not use
  const pairs: [number, number][] = [];
  for (let t = 60; t <= 600; t += 60) pairs.push([t, 1]);
  assert.deepEqual(feed(j, s, pairs, 10_000), [
    's_1_h1/cpu.idle PROBLEM 1 1 @180 P2',
    's_1_h1/cpu.idle PROBLEM 2 1 @360 P2',
    's_1_h1/cpu.idle PROBLEM 3 1 @540 P2',
  ]);
});

test('maxStep 0 sends nothing and keeps no last event (so no OK follows)', () => {
  const j = new Judge();
  const s = [strategy({ func: 'all(#1)', maxStep: 0 })];
  assert.deepEqual(
    feed(j, s, [
      [60, 1],
      [120, 1],
      [180, 50],
    ]),
    [],
  );
  assert.equal(j.lastEvent('1', true, 'h1/cpu.idle'), undefined);
});

test('COUNTER and DERIVE are judged as rates per second, stamped with the newer point, needing one point more', () => {
  const j = new Judge();
  const s = [strategy({ metric: 'net.if.in.bytes', func: 'all(#2)', op: '==', right: 10 })];
  const over: Partial<JudgePoint> = { metric: 'net.if.in.bytes', counterType: 'COUNTER' };
  // rates: (600-0)/60 = 10, (1200-600)/60 = 10: enough at the third point
  assert.deepEqual(
    feed(
      j,
      s,
      [
        [60, 0],
        [120, 600],
      ],
      0,
      over,
    ),
    [],
  );
  assert.deepEqual(feed(j, s, [[180, 1200]], 0, over), ['s_1_h1/net.if.in.bytes PROBLEM 1 10 @180 P2']);
  const d = new Judge();
  const derive: Partial<JudgePoint> = { metric: 'net.if.in.bytes', counterType: 'DERIVE' };
  assert.deepEqual(
    feed(
      d,
      [strategy({ metric: 'net.if.in.bytes', func: 'max(#1)', op: '>', right: 5 })],
      [
        [0, 5],
        [30, 5],
        [90, 905],
      ],
      0,
      derive,
    ),
    ['s_1_h1/net.if.in.bytes PROBLEM 1 15 @90 P2'],
  );
});

test('remain bounds the history: a function needing more points than kept never fires', () => {
  const j = new Judge({ remain: 3, minInterval: 300 });
  const pairs: [number, number][] = [];
  for (let t = 60; t <= 600; t += 60) pairs.push([t, 1]);
  assert.deepEqual(feed(j, [strategy({ func: 'all(#4)' })], pairs), []);
  // all(#3) fits: PROBLEM at 180, then at 480 (300 s later)
  assert.deepEqual(
    feed(new Judge({ remain: 3, minInterval: 300 }), [strategy({ func: 'all(#3)' })], pairs).map((e) => e.split(' ')[4]),
    ['@180', '@480'],
  );
});

test('host-bound strategies first, then tag-bound, each in the given order; relevance checked by the judge', () => {
  const j = new Judge();
  const tags = 'cop=xiaomi,owt=miliao,pdl=account,process=api';
  const candidates = [
    strategy({ id: '10', endpoint: undefined, tags: { cop: 'xiaomi' }, func: 'all(#1)', op: '==', right: 0 }),
    strategy({ id: '20', tags: { process: 'api' }, func: 'all(#1)', op: '==', right: 0 }),
    strategy({ id: '30', endpoint: undefined, tags: { endpoint: 'h1', pdl: 'account' }, func: 'all(#1)', op: '==', right: 0 }),
    strategy({ id: '40', tags: {}, func: 'all(#1)', op: '==', right: 0 }),
    // not related: another host, a tag not on the series, another metric, the endpoint tag of another host
    strategy({ id: '50', endpoint: 'h2', func: 'all(#1)', op: '==', right: 0 }),
    strategy({ id: '60', endpoint: undefined, tags: { pdl: 'other' }, func: 'all(#1)', op: '==', right: 0 }),
    strategy({ id: '70', metric: 'mem.used', func: 'all(#1)', op: '==', right: 0 }),
    strategy({ id: '80', endpoint: undefined, tags: { endpoint: 'h2' }, func: 'all(#1)', op: '==', right: 0 }),
    // tag-bound without tags: Falcon indexes expressions by their tags, so never judged
    strategy({ id: '90', endpoint: undefined, tags: {}, func: 'all(#1)', op: '==', right: 0 }),
    // the same tag-bound strategy listed twice is judged once, as Falcon's expressions
    strategy({ id: '10', endpoint: undefined, tags: { cop: 'xiaomi' }, func: 'all(#1)', op: '==', right: 0 }),
  ];
  const events = j.push(point(60, 0, { metric: 'cpu.idle', tags }), 60, candidates);
  assert.deepEqual(
    events.map((e) => `${e.id} ${e.strategy.id}`),
    [`s_20_h1/cpu.idle/${tags} 20`, `s_40_h1/cpu.idle/${tags} 40`, `e_10_h1/cpu.idle/${tags} 10`, `e_30_h1/cpu.idle/${tags} 30`],
  );
  assert.equal(events[0]!.tags, tags);
  assert.equal(events[0]!.endpoint, 'h1');
});

test('a tag named endpoint on the series is what a tag-bound endpoint tag matches (Falcon copies the item tags over it)', () => {
  const j = new Judge();
  const s = [strategy({ id: '9', endpoint: undefined, tags: { endpoint: 'h1' }, func: 'all(#1)', op: '==', right: 0 })];
  assert.deepEqual(j.push(point(60, 0, { tags: 'endpoint=other' }), 60, s), []);
  assert.equal(j.push(point(60, 0, { tags: 'endpoint=h1', endpoint: 'h9' }), 60, s).length, 1);
});

test('a strategy whose func does not parse is skipped and counted, as Falcon logs and goes on', () => {
  const j = new Judge();
  const s = [strategy({ id: '1', func: 'median(#3)' }), strategy({ id: '2', func: 'all(#1)' })];
  assert.deepEqual(feed(j, s, [[60, 1]]), ['s_2_h1/cpu.idle PROBLEM 1 1 @60 P2']);
  assert.equal(j.invalidStrategies, 1);
});

test('seed and seedLastEvent rebuild the state a new leader needs: no repeat, no lost OK', () => {
  const before = new Judge();
  const s = [strategy({ maxStep: 5 })];
  const first = feed(before, s, [
    [60, 1],
    [120, 1],
    [180, 1],
  ]);
  assert.equal(first.length, 1);
  const stored = before.push(point(240, 1), 240, s); // nothing (oldest used 120 <= 180)
  assert.deepEqual(stored, []);

  const after = new Judge();
  after.seed('h1/cpu.idle', [point(240, 1), point(120, 1), point(180, 1), point(60, 1)]);
  const event: JudgeEvent = {
    id: 's_1_h1/cpu.idle',
    strategy: s[0]!,
    endpoint: 'h1',
    metric: 'cpu.idle',
    tags: '',
    status: 'PROBLEM',
    currentStep: 1,
    leftValue: 1,
    eventTime: 180,
    priority: 2,
  };
  after.seedLastEvent(event);
  assert.deepEqual(after.lastEvent('1', true, 'h1/cpu.idle'), { status: 'PROBLEM', currentStep: 1, eventTime: 180 });
  // a point the old leader already judged is dropped by the seeded history
  assert.deepEqual(after.push(point(240, 1), 240, s), []);
  // the same sequence goes on in both
  for (const j of [before, after]) {
    assert.deepEqual(
      feed(j, s, [
        [300, 1],
        [360, 1],
        [420, 1],
        [480, 1],
        [540, 50],
      ]),
      ['s_1_h1/cpu.idle PROBLEM 2 1 @480 P2', 's_1_h1/cpu.idle OK 1 50 @540 P2'],
    );
  }
});

test('a push that sends nothing allocates no array: the same frozen empty one', () => {
  const j = new Judge();
  const a = j.push(point(60, 50), 60, [strategy()]);
  const b = j.push(point(120, 50), 120, []);
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
});

test('many series: the slabs grow and keep every history apart', () => {
  const j = new Judge({ remain: 11, minInterval: 300 }, { expectedSeries: 16 });
  const s = [strategy({ endpoint: undefined, tags: { cop: 'x' }, func: 'sum(#2)', op: '==', right: 0 })];
  const sent: number[] = [];
  for (let t = 60; t <= 120; t += 60) {
    for (let h = 0; h < 1000; h++) {
      // series h sums to 0 only when h is even
      const v = h % 2 === 0 ? 0 : h;
      for (const e of j.push(point(t, v, { endpoint: `h${h}`, tags: 'cop=x' }), t, s)) sent.push(Number(e.endpoint.slice(1)));
    }
  }
  assert.equal(j.series, 1000);
  assert.equal(sent.length, 500);
  assert.ok(sent.every((h) => h % 2 === 0));
});

test('an event whose left value is infinite is recorded but not sent, as Falcon fails to marshal it', () => {
  const j = new Judge();
  const s = [strategy({ func: 'kpdiff(#1,2)', op: '<', right: 0 })];
  // at 180 the history is [5, 0, 10]: (0-10)/0*100 = -Infinity meets "< 0"
  assert.deepEqual(
    feed(j, s, [
      [60, 10],
      [120, 0],
      [180, 5],
    ]),
    [],
  );
  assert.equal(j.unsendable, 1);
  assert.deepEqual(j.lastEvent('1', true, 'h1/cpu.idle'), { status: 'PROBLEM', currentStep: 1, eventTime: 180 });
  // the recorded PROBLEM makes the next untriggered point send an OK
  assert.deepEqual(feed(j, s, [[240, 20]]), ['s_1_h1/cpu.idle OK 1 100 @240 P2']);
});

test('thousands of strategies on one point: each judged once, in order', () => {
  const j = new Judge();
  const many = Array.from({ length: 3000 }, (_, i) =>
    strategy({ id: String(i), endpoint: undefined, tags: { endpoint: 'h1' }, func: 'all(#1)' }),
  );
  const events = j.push(point(60, 1), 60, [...many, ...many]);
  assert.equal(events.length, 3000);
  assert.deepEqual(
    events.slice(0, 3).map((e) => e.id),
    ['e_0_h1/cpu.idle', 'e_1_h1/cpu.idle', 'e_2_h1/cpu.idle'],
  );
});

test('what applies to a series is kept per candidates array: a new array is resolved again, a shared one per series', () => {
  const j = new Judge();
  const a = strategy({ id: 'a', func: 'all(#1)', endpoint: undefined, tags: { app: 'x' } });
  const b = strategy({ id: 'b', func: 'all(#1)', endpoint: undefined, tags: { app: 'y' } });
  const both = [a, b];
  const onX = { tags: 'app=x' };
  const onY = { tags: 'app=y' };
  // one array for two series, each meeting one of its strategies
  assert.deepEqual(feed(j, both, [[60, 1]], 0, onX), ['e_a_h1/cpu.idle/app=x PROBLEM 1 1 @60 P2']);
  assert.deepEqual(feed(j, both, [[60, 1]], 0, onY), ['e_b_h1/cpu.idle/app=y PROBLEM 1 1 @60 P2']);
  assert.deepEqual(feed(j, both, [[120, 9]], 0, onX), ['e_a_h1/cpu.idle/app=x OK 1 9 @120 P2']);
  // a new array for a series seen before: what it holds now is judged, and nothing else
  const c = strategy({ id: 'c', func: 'all(#1)', endpoint: undefined, tags: { app: 'x' }, op: '>', right: 100 });
  assert.deepEqual(feed(j, [c], [[180, 200]], 0, onX), ['e_c_h1/cpu.idle/app=x PROBLEM 1 200 @180 P2']);
  assert.deepEqual(feed(j, [b], [[240, 1]], 0, onX), []);
  // an array every candidate of which applies is shared by its series; one that applies to one series only is not
  const all = [a];
  assert.deepEqual(feed(j, all, [[60, 1]], 0, { tags: 'app=x,z=1' }), ['e_a_h1/cpu.idle/app=x,z=1 PROBLEM 1 1 @60 P2']);
  assert.deepEqual(feed(j, all, [[60, 1]], 0, { tags: 'app=x,z=2' }), ['e_a_h1/cpu.idle/app=x,z=2 PROBLEM 1 1 @60 P2']);
  assert.deepEqual(feed(j, all, [[60, 1]], 0, { tags: 'app=q' }), []);
});

test('seriesId numbers a series once; pushSeries judges as push does', () => {
  const j = new Judge();
  const key = 'h1/cpu.idle';
  const s = j.seriesId(key);
  assert.equal(j.seriesId(key), s);
  assert.notEqual(j.seriesId('h2/cpu.idle'), s);
  const only = [strategy({ func: 'all(#1)' })];
  assert.deepEqual(j.pushSeries(s, key, point(60, 1), 60, only).map(brief), ['s_1_h1/cpu.idle PROBLEM 1 1 @60 P2']);
  assert.deepEqual(j.push(point(60, 1), 60, only), []); // the same series: not newer, dropped
});
