import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StrategyView } from '../api/index.js';
import { strategyRows } from './chart-strategies.js';

const s = (id: number, selector: string, metric: string, over: Partial<StrategyView> = {}): StrategyView => ({
  id,
  selector,
  metric,
  tags: '',
  func: 'all(#3)',
  op: '==',
  right: 0,
  maxStep: 3,
  priority: 2,
  note: '',
  run: null,
  off: false,
  createdAt: '2026-12-03T00:00:00.000Z',
  ...over,
});

test("a node's strategies: its own first, then those above (inherited), as the server says they stand", () => {
  const rows = strategyRows({
    at: 'cop=acme,owt=web,pdl=shop',
    strategies: [s(2, 'cop=acme,owt=web', 'common.servicerunning'), s(3, 'cop=acme', 'common.servicerunning', { tags: 'process=worker' })],
    notApplied: [
      { ...s(1, 'cop=acme', 'common.servicerunning'), because: 'overridden' },
      { ...s(4, 'cop=acme,owt=web,pdl=shop', 'cpu.idle', { off: true }), because: 'off' },
    ],
  });
  assert.deepEqual(
    rows.map((r) => [r.strategy.id, r.inherited, r.state]),
    [
      [4, false, 'off'],
      [2, true, 'applies'],
      [1, true, 'overridden'],
      [3, true, 'applies'],
    ],
  );
  assert.equal('because' in rows[0]!.strategy, false, 'the row holds the strategy as the API lists it');
});

test('nothing set at the node or above: no rows', () => {
  assert.deepEqual(strategyRows({ at: 'cop=acme', strategies: [], notApplied: [] }), []);
});
