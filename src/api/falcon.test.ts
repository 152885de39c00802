/** Falcon's push format: transfer's validation cases, tags, alignment and keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alignTimestamp,
  checkFalconPush,
  falconTagString,
  MAX_METRIC_AND_TAGS,
  MAX_PUSH_ITEMS,
  parseFalconTags,
  seriesKey,
} from './falcon.js';

const NOW = 1_700_000_000;
const item = (over: Record<string, unknown> = {}) => ({
  endpoint: 'host1',
  metric: 'cpu.idle',
  timestamp: NOW - 30,
  step: 60,
  value: 42.5,
  counterType: 'GAUGE',
  tags: 'b=2,a=1',
  ...over,
});

test('a valid item is taken, its tags sorted by key; numeric strings are numbers', () => {
  const r = checkFalconPush(
    [item(), item({ value: '7', step: '30', counterType: 'COUNTER', tags: '' }), item({ counterType: 'DERIVE' })],
    NOW,
  )!;
  assert.deepEqual(r.invalid, []);
  assert.deepEqual(r.points[0], {
    endpoint: 'host1',
    metric: 'cpu.idle',
    timestamp: NOW - 30,
    step: 60,
    value: 42.5,
    counterType: 'GAUGE',
    tags: 'a=1,b=2',
  });
  assert.deepEqual([r.points[1]!.value, r.points[1]!.step, r.points[1]!.tags, r.points[1]!.counterType], [7, 30, '', 'COUNTER']);
  assert.equal(r.points[2]!.counterType, 'DERIVE');
});

test("transfer's invalid items are counted with their reason, by index, and the others taken", () => {
  const cases: [Record<string, unknown> | unknown, RegExp][] = [
    [item({ endpoint: '' }), /endpoint and metric/],
    [item({ metric: undefined }), /endpoint and metric/],
    [item({ metric: 'kernel.hostname' }), /kernel\.hostname/],
    [item({ counterType: 'gauge' }), /counterType/],
    [item({ counterType: undefined }), /counterType/],
    [item({ value: 'abc' }), /value/],
    [item({ value: null }), /value/],
    [item({ value: Number.NaN }), /value/],
    [item({ step: 0 }), /step/],
    [item({ step: -60 }), /step/],
    [item({ step: 1.5 }), /step/],
    [item({ tags: 5 }), /tags/],
    [item({ metric: 'm', tags: `a=${'x'.repeat(MAX_METRIC_AND_TAGS)}` }), /longer than 510/],
    ['not an object', /not an object/],
    [null, /not an object/],
    [[1], /not an object/],
  ];
  const r = checkFalconPush([item(), ...cases.map(([c]) => c)], NOW)!;
  assert.equal(r.points.length, 1);
  assert.deepEqual(
    r.invalid.map((i) => i.index),
    cases.map((_, i) => i + 1),
  );
  for (const [i, [, reason]] of cases.entries()) assert.match(r.invalid[i]!.reason, reason, `case ${i}`);
});

test('a timestamp not above 0 or beyond twice now becomes now; a fractional one is cut', () => {
  const ts = (timestamp: unknown) => checkFalconPush([item({ timestamp })], NOW)!.points[0]!.timestamp;
  assert.equal(ts(0), NOW);
  assert.equal(ts(-5), NOW);
  assert.equal(ts(undefined), NOW);
  assert.equal(ts(NOW * 2 + 1), NOW);
  assert.equal(ts(NOW * 2), NOW * 2);
  assert.equal(ts(NOW + 0.9), NOW);
  assert.equal(ts(String(NOW - 1)), NOW - 1);
});

test('a body that is not a list, or longer than MAX_PUSH_ITEMS, is refused whole', () => {
  assert.equal(checkFalconPush({ endpoint: 'h' }, NOW), undefined);
  assert.equal(checkFalconPush('[]', NOW), undefined);
  assert.equal(
    checkFalconPush(
      Array.from({ length: MAX_PUSH_ITEMS + 1 }, () => item()),
      NOW,
    ),
    undefined,
  );
  assert.equal(
    checkFalconPush(
      Array.from({ length: MAX_PUSH_ITEMS }, () => item()),
      NOW,
    )!.points.length,
    MAX_PUSH_ITEMS,
  );
  assert.deepEqual(checkFalconPush([], NOW), { points: [], invalid: [] });
});

test("tags: Falcon's split (spaces trimmed, empty parts and parts without = dropped), sorted when joined", () => {
  assert.deepEqual(parseFalconTags(' b = 2 ,,a=1,junk,=x,c='), { b: '2', a: '1', c: '' });
  assert.deepEqual(parseFalconTags(''), {});
  assert.deepEqual(parseFalconTags('url=/a=b'), { url: '/a=b' });
  assert.equal(falconTagString({ z: '1', a: '2', m: '3' }), 'a=2,m=3,z=1');
  assert.equal(falconTagString({}), '');
});

test('timestamps align down to the step; keys are endpoint/metric[/tags]', () => {
  assert.equal(alignTimestamp(1_700_000_059, 60), 1_700_000_040);
  assert.equal(alignTimestamp(1_700_000_040, 60), 1_700_000_040);
  assert.equal(alignTimestamp(123, 0), 123);
  assert.equal(seriesKey('h', 'cpu.idle', ''), 'h/cpu.idle');
  assert.equal(seriesKey('h', 'df.bytes.free.percent', 'fstype=ext4,mount=/'), 'h/df.bytes.free.percent/fstype=ext4,mount=/');
});
