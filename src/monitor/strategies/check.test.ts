/** The checks of a strategy's fields: what passes (normalized) and what is refused with a named field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../../errors/index.js';
import { checkFunc, checkMaxStep, checkOp, checkPriority, checkTags, parseDuration, parseRun, windowHolds } from './check.js';

const refused = (fn: () => unknown, field: RegExp): void =>
  assert.throws(fn, (err: unknown) => err instanceof NoopsError && err.code === 'NOOPS_E_STRATEGY_INVALID' && field.test(err.message));

test('functions: Falcon names with #N (and N,M for lookup, kdiff, kpdiff)', () => {
  assert.equal(checkFunc(' all(#3) '), 'all(#3)');
  for (const ok of [
    'max(#1)',
    'min(#2)',
    'sum(#3)',
    'avg(#3)',
    'diff(#3)',
    'pdiff(#3)',
    'stddev(#5)',
    'lookup(#2,3)',
    'kdiff(#3, 2)',
    'kpdiff(#3,3)',
  ])
    assert.equal(checkFunc(ok), ok);
  for (const bad of ['all(3)', 'all(#0)', 'lookup(#2)', 'all(#3,2)', 'median(#3)', 'all(#3', '']) refused(() => checkFunc(bad), /--func/);
});

test('operators, priorities 0-6, max >= 0', () => {
  for (const op of ['==', '=', '!=', '<', '<=', '>', '>=']) assert.equal(checkOp(op), op);
  refused(() => checkOp('=>'), /--op/);
  assert.equal(checkPriority(0), 0);
  assert.equal(checkPriority(6), 6);
  refused(() => checkPriority(7), /--priority/);
  refused(() => checkPriority(1.5), /--priority/);
  assert.equal(checkMaxStep(0), 0);
  refused(() => checkMaxStep(-1), /--max/);
});

test('run windows: HH:MM-HH:MM, crossing midnight, 24:00 as an end', () => {
  assert.deepEqual(parseRun('09:00-18:00'), { from: '09:00', to: '18:00' });
  assert.deepEqual(parseRun('22:00-06:00'), { from: '22:00', to: '06:00' });
  assert.deepEqual(parseRun('00:00-24:00'), { from: '00:00', to: '24:00' });
  for (const bad of ['9:00-18:00', '09:00', '25:00-01:00', '09:60-10:00', '24:00-01:00', '10:00-10:00'])
    refused(() => parseRun(bad), /--run/);
  const at = (h: number, m: number) => new Date(2026, 5, 1, h, m);
  assert.equal(windowHolds({ from: '00:00', to: '24:00' }, at(23, 59)), true);
  assert.equal(windowHolds({ from: '22:00', to: '06:00' }, at(21, 59)), false);
  assert.equal(windowHolds({ from: '22:00', to: '06:00' }, at(22, 0)), true);
});

test("tags k=v,... into Falcon's sorted string; durations", () => {
  assert.equal(checkTags(''), '');
  assert.equal(checkTags(' mount=/ , fstype=ext4 '), 'fstype=ext4,mount=/');
  refused(() => checkTags('mount'), /--tags/);
  refused(() => checkTags('a=1,a=2'), /twice/);
  refused(() => checkTags('a=1,'), /--tags/);
  assert.equal(parseDuration('2h', '--for'), 7200);
  assert.equal(parseDuration('120s', '--after'), 120);
  assert.equal(parseDuration('90', '--after'), 90);
  assert.equal(parseDuration('1d', '--for'), 86_400);
  refused(() => parseDuration('0s', '--for'), /--for/);
  refused(() => parseDuration('2 hours', '--for'), /--for/);
});
