/** planApply: equal ones stay, same node+metric+tags change in place, the rest added or removed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StrategyRow } from '../../store/index.js';
import { planApply, type WantedStrategy } from './apply.js';

const want = (over: Partial<WantedStrategy>): WantedStrategy => ({
  node: 'cop.x',
  metric: 'cpu.idle',
  tags: '',
  func: 'all(#3)',
  op: '<',
  right: 5,
  maxStep: 3,
  priority: 2,
  note: '',
  runFrom: null,
  runTo: null,
  off: false,
  ...over,
});
const row = (id: number, over: Partial<WantedStrategy>): StrategyRow => ({ ...want(over), id, createdBy: 'a', createdAt: 't' });

test('a file equal to what is stored (in any order) changes nothing', () => {
  const stored = [row(1, {}), row(2, { metric: 'load.1min', op: '>' })];
  assert.deepEqual(planApply(stored, [want({ metric: 'load.1min', op: '>' }), want({})]), { add: [], change: [], remove: [] });
});

test('same node, metric and tags: changed in place with only the fields that differ; the rest added and removed', () => {
  const stored = [row(1, {}), row(2, { metric: 'mem.memfree.percent' }), row(3, { tags: 'mount=/' })];
  const plan = planApply(stored, [
    want({ right: 10, runFrom: '22:00', runTo: '06:00' }),
    want({ metric: 'df.bytes.free.percent' }),
    want({ tags: 'mount=/' }),
  ]);
  assert.deepEqual(plan.add, [want({ metric: 'df.bytes.free.percent' })]);
  assert.deepEqual(
    plan.change.map((c) => [c.from.id, c.patch, c.to.right]),
    [[1, { right: 10, runFrom: '22:00', runTo: '06:00' }, 10]],
  );
  assert.deepEqual(
    plan.remove.map((r) => r.id),
    [2],
  );
});

test('two strategies of one metric (two thresholds): each pairs with one stored, in id order', () => {
  const stored = [row(1, { right: 5, priority: 1 }), row(2, { right: 20, priority: 3 })];
  const plan = planApply(stored, [want({ right: 5, priority: 1 }), want({ right: 25, priority: 3 })]);
  assert.deepEqual(
    plan.change.map((c) => [c.from.id, c.patch]),
    [[2, { right: 25 }]],
  );
  assert.deepEqual([plan.add, plan.remove], [[], []]);
});
