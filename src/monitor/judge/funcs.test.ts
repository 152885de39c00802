import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoopsError } from '../../errors/index.js';
import { compute, FuncKind, type FuncResult, opKind, parseFunc, triggered } from './funcs.js';

/** Runs `func op right` on values given newest first. */
function run(func: string, op: string, right: number, newestFirst: number[]): FuncResult {
  const out: FuncResult = { leftValue: Number.NaN, isTriggered: false };
  compute(parseFunc(func), opKind(op), right, Float64Array.from(newestFirst), out);
  return out;
}

test('parseFunc reads every Falcon function with its arguments and the points it needs', () => {
  assert.deepEqual(parseFunc('all(#3)'), { kind: FuncKind.All, name: 'all', limit: 3, num: 0, need: 3 });
  assert.equal(parseFunc('max(#5)').need, 5);
  assert.equal(parseFunc('min(#1)').kind, FuncKind.Min);
  assert.equal(parseFunc('sum(#2)').kind, FuncKind.Sum);
  assert.equal(parseFunc('avg(#10)').limit, 10);
  assert.equal(parseFunc('diff(#3)').need, 4, 'diff compares the newest point with 3 older ones');
  assert.equal(parseFunc('pdiff(#3)').need, 4);
  assert.deepEqual(parseFunc('lookup(#2,3)'), { kind: FuncKind.Lookup, name: 'lookup', limit: 3, num: 2, need: 3 });
  assert.equal(parseFunc('stddev(#7)').need, 7);
  assert.deepEqual(parseFunc('kdiff(#3,2)'), { kind: FuncKind.KDiff, name: 'kdiff', limit: 2, num: 3, need: 5 });
  assert.equal(parseFunc('kpdiff(#3,3)').need, 6);
  // as Falcon's Atoi, a sign is allowed; extra arguments are ignored
  assert.equal(parseFunc('all(#+3)').limit, 3);
  assert.equal(parseFunc('all(#3,9)').limit, 3);
});

test('parseFunc refuses what Falcon cannot judge, with NOOPS_E_STRATEGY_FUNC and a hint', () => {
  for (const bad of ['', 'all', 'all(3)', 'foo(#3)', 'all(#x)', 'all(#3', 'lookup(#2)', 'kdiff(#3)', 'all(#0)', 'all(# 3)', '(#3)']) {
    assert.throws(
      () => parseFunc(bad),
      (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_STRATEGY_FUNC' && e.hint.includes('lookup(#2,3)'),
      bad,
    );
  }
});

test("operators: == and = within Falcon's 0.0001, != beyond it, an unknown one never triggers", () => {
  assert.equal(triggered(1.00005, opKind('=='), 1), true);
  assert.equal(triggered(1.00005, opKind('='), 1), true);
  assert.equal(triggered(1.0002, opKind('=='), 1), false);
  assert.equal(triggered(1.00005, opKind('!='), 1), false);
  assert.equal(triggered(1.0002, opKind('!='), 1), true);
  assert.equal(triggered(1, opKind('<'), 2), true);
  assert.equal(triggered(2, opKind('<='), 2), true);
  assert.equal(triggered(3, opKind('>'), 2), true);
  assert.equal(triggered(2, opKind('>='), 2), true);
  assert.equal(triggered(2, opKind('>'), 2), false);
  assert.equal(triggered(1, opKind('<>'), 2), false);
  assert.equal(triggered(1, opKind('=~'), 1), false);
});

test("Falcon's docs: cpu.idle all(#3) < 5 fires when the newest three are all under 5", () => {
  assert.deepEqual(run('all(#3)', '<', 5, [1, 2, 3, 90]), { leftValue: 1, isTriggered: true });
  assert.deepEqual(run('all(#3)', '<', 5, [1, 9, 3]), { leftValue: 1, isTriggered: false });
  assert.deepEqual(run('all(#3)', '>=', 90, [95, 90, 91]), { leftValue: 95, isTriggered: true });
});

test('max, min, sum and avg of the newest N', () => {
  assert.deepEqual(run('max(#3)', '>', 80, [10, 85, 20, 99]), { leftValue: 85, isTriggered: true });
  assert.deepEqual(run('min(#3)', '<', 5, [10, 4, 20, 1]), { leftValue: 4, isTriggered: true });
  assert.deepEqual(run('sum(#3)', '>', 50, [10, 20, 21, 100]), { leftValue: 51, isTriggered: true });
  assert.deepEqual(run('avg(#4)', '==', 2.5, [1, 2, 3, 4, 100]), { leftValue: 2.5, isTriggered: true });
});

test("Falcon's docs: lookup(#2,3) fires when two of the newest three meet the threshold", () => {
  assert.deepEqual(run('lookup(#2,3)', '>', 80, [90, 10, 85, 99]), { leftValue: 90, isTriggered: true });
  assert.deepEqual(run('lookup(#2,3)', '>', 80, [90, 10, 20, 99]), { leftValue: 90, isTriggered: false });
  assert.deepEqual(run('lookup(#2,3)', '>', 80, [10, 90, 85]), { leftValue: 10, isTriggered: true }, 'leftValue is the newest');
});

test('diff(#3): the newest minus each of the 3 older, stops at the first that meets it, leftValue the last computed', () => {
  // 100-90=10, 100-50=50 (fires here), 100-10 not computed
  assert.deepEqual(run('diff(#3)', '>=', 40, [100, 90, 50, 10]), { leftValue: 50, isTriggered: true });
  // none meets: leftValue is the last difference (100-95)
  assert.deepEqual(run('diff(#3)', '>=', 40, [100, 99, 98, 95]), { leftValue: 5, isTriggered: false });
  assert.deepEqual(run('diff(#1)', '<', -10, [10, 30]), { leftValue: -20, isTriggered: true });
});

test('pdiff(#3): percent change against each older value, a zero older value skipped', () => {
  // (150-100)/100*100 = 50
  assert.deepEqual(run('pdiff(#3)', '>', 40, [150, 0, 100, 140]), { leftValue: 50, isTriggered: true });
  // every older value zero: nothing computed, leftValue 0, not triggered
  assert.deepEqual(run('pdiff(#2)', '>', -1000, [5, 0, 0]), { leftValue: 0, isTriggered: false });
  // none meets: leftValue the last computed, (110-100)/100*100
  assert.deepEqual(run('pdiff(#2)', '>', 50, [110, 105, 100]), { leftValue: ((110 - 100) / 100) * 100, isTriggered: false });
});

test('stddev(#N) = k: outside mean ± k·σ with the population deviation of the newest N, the current one included; the operator unused', () => {
  // values 10, 2, 2, 2, 2 (newest first): mean 3.6, population σ = 3.2, 3σ band [-6, 13.2]: 10 inside
  assert.deepEqual(run('stddev(#5)', '==', 3, [10, 2, 2, 2, 2]), { leftValue: 10, isTriggered: false });
  // 1σ band [0.4, 6.8]: 10 outside (a sample deviation, n-1, would give σ=3.58 and the same answer here; see the next)
  assert.deepEqual(run('stddev(#5)', '<', 1, [10, 2, 2, 2, 2]), { leftValue: 10, isTriggered: true });
  // 1.9σ: population band upper 3.6+6.08=9.68 (10 outside: fires); sample σ=3.5777 would give 10.4 (inside)
  assert.equal(run('stddev(#5)', '>', 1.9, [10, 2, 2, 2, 2]).isTriggered, true);
  assert.equal(run('stddev(#3)', '=', 3, [5, 5, 5]).isTriggered, false, 'σ = 0 and X = μ: inside');
});

test('kdiff(#num,limit): every one of the newest `limit` minus each of the `num` oldest must meet it', () => {
  // kdiff(#2,2) on 4 points [20, 21, 10, 10]: i=0 base v[3]=10: 20-10, 21-10; i=1 base v[2]=10: 10, 11
  assert.deepEqual(run('kdiff(#2,2)', '>=', 10, [20, 21, 10, 10]), { leftValue: 11, isTriggered: true });
  // one difference short: stops there, leftValue that difference
  assert.deepEqual(run('kdiff(#2,2)', '>=', 10, [20, 19, 10, 10]), { leftValue: 9, isTriggered: false });
  // Falcon's surprise: a zero at index i < num ends the loop untriggered, though every difference met it
  assert.deepEqual(run('kdiff(#2,1)', '>=', 10, [20, 0, 5]), { leftValue: 15, isTriggered: false });
});

test('kpdiff(#num,limit) divides by the newer value, as Falcon does', () => {
  // newest 3 are 200, oldest 3 are 100: (200-100)/200*100 = 50 for all 9 pairs
  assert.deepEqual(run('kpdiff(#3,3)', '>=', 50, [200, 200, 200, 100, 100, 100]), { leftValue: 50, isTriggered: true });
  // dividing by the older value would give 100: a threshold of 60 does not fire
  assert.equal(run('kpdiff(#3,3)', '>=', 60, [200, 200, 200, 100, 100, 100]).isTriggered, false);
  // a zero newest value: break before any comparison, not triggered, leftValue untouched (0)
  assert.deepEqual(run('kpdiff(#1,2)', '<', 1000, [0, 5, 5]), { leftValue: 0, isTriggered: false });
});
