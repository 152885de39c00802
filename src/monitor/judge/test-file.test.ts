import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoopsError } from '../../errors/index.js';
import { checkStrategyTestFile, compareExpected, runStrategyTest } from './test-file.js';

const strategy = { id: 's', metric: 'm', tags: {}, func: 'all(#1)', op: '>', right: 0, maxStep: 5, priority: 3 };

test('pushes of every series are merged by now, ties kept in file order; each case has its own judge', () => {
  const cases = checkStrategyTestFile({
    cases: [
      {
        strategies: [strategy],
        series: [
          {
            endpoint: 'a',
            metric: 'm',
            pushes: [
              { ts: 60, value: 1, now: 300 },
              { ts: 120, value: 0, now: 400 },
            ],
          },
          {
            endpoint: 'b',
            metric: 'm',
            pushes: [
              { ts: 60, value: 1, now: 100 },
              { ts: 120, value: 0, now: 300 },
            ],
          },
        ],
      },
      {
        config: { remain: 2, minInterval: 0 },
        strategies: [strategy],
        series: [{ endpoint: 'a', metric: 'm', pushes: [{ ts: 60, value: 1 }] }],
      },
    ],
  });
  const events = runStrategyTest(cases).map((e) => `${e.case}:${e.series}.${e.push} ${e.status}`);
  // now 100: b0; now 300: a0 (file order: series 0 first), then b1; now 400: a1
  assert.deepEqual(events, ['0:1.0 PROBLEM', '0:0.0 PROBLEM', '0:1.1 OK', '0:0.1 OK', '1:0.0 PROBLEM']);
  assert.deepEqual(cases[1]!.config, { remain: 2, minInterval: 0 });
  assert.equal(cases[0]!.config.remain, 11, "Falcon's defaults: remain 11, minInterval 300");
});

test('expect: compares the fields each entry gives, leftValue within 1e-9, and missing or extra events', () => {
  const cases = checkStrategyTestFile({
    strategies: [strategy],
    series: [{ endpoint: 'a', metric: 'm', tags: { k: 'v' }, counterType: 'GAUGE', pushes: [{ ts: 60, value: 0.3, now: 60 }] }],
    expect: [{ leftValue: 0.1 + 0.2, status: 'PROBLEM', strategy: 's' }],
  });
  assert.deepEqual(compareExpected(cases, runStrategyTest(cases)), []);
  cases[0]!.expect = [{ status: 'OK' }, { push: 1 }];
  const diffs = compareExpected(cases, runStrategyTest(cases));
  assert.deepEqual(
    diffs.map((d) => [d.index, d.fields, d.actual === undefined]),
    [
      [0, ['status'], false],
      [1, [], true],
    ],
  );
});

test('an invalid file names the field: wrong types, unknown operator, duplicate ids, bad counterType', () => {
  const bad = (doc: unknown, message: RegExp): void => {
    assert.throws(
      () => checkStrategyTestFile(doc),
      (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_STRATEGY_TEST' && message.test(e.message),
    );
  };
  const series = [{ endpoint: 'a', metric: 'm', pushes: [] }];
  bad({ strategies: [{ ...strategy, op: '<>' }], series }, /strategies\[0\]\.op: "<>" is not one of Falcon's operators/);
  bad({ strategies: [strategy, strategy], series }, /strategies\[1\]\.id: "s" is given twice/);
  bad({ strategies: [{ ...strategy, maxStep: -1 }], series }, /strategies\[0\]\.maxStep: must be a whole number, at least 0/);
  bad({ strategies: [strategy], series: [{ ...series[0], counterType: 'RATE' }] }, /series\[0\]\.counterType/);
  bad({ strategies: [strategy], series: [{ ...series[0], pushes: [{ ts: 1.5, value: 1 }] }] }, /series\[0\]\.pushes\[0\]\.ts/);
  bad({ cases: [{ strategies: [strategy] }] }, /cases\[0\]\.series: must be a list/);
  bad({ strategies: [strategy], series, config: { remain: 0 } }, /config\.remain/);
  bad('text', /the file: must be a mapping/);
});
