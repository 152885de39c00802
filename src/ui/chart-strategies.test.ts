import { test } from 'node:test';
import assert from 'node:assert/strict';
import { strategiesAt, type StrategyLike } from './chart-strategies.js';

const s = (id: number, selector: string, metric: string, over: Partial<StrategyLike> = {}) => ({
  id,
  selector,
  metric,
  tags: '',
  off: false,
  ...over,
});

test("a node's strategies: its own and those above (inherited), never those of other or lower nodes", () => {
  const all = [
    s(1, 'cop=acme', 'cpu.idle'),
    s(2, 'cop=acme,owt=web', 'app.queue'),
    s(3, 'cop=acme,owt=ops', 'app.queue'),
    s(4, 'cop=acme,owt=web,pdl=shop', 'load.1min'),
    s(5, 'cop=other', 'cpu.idle'),
  ];
  const at = strategiesAt(all, 'cop=acme,owt=web');
  assert.deepEqual(
    at.map((a) => [a.strategy.id, a.inherited, a.state]),
    [
      [2, false, 'applies'],
      [1, true, 'applies'],
    ],
  );
});

test('for one metric and tags the lowest node replaces the higher; other tags are another strategy', () => {
  const all = [
    s(1, 'cop=acme', 'common.servicerunning'),
    s(2, 'cop=acme,owt=web', 'common.servicerunning'),
    s(3, 'cop=acme', 'common.servicerunning', { tags: 'process=worker' }),
  ];
  assert.deepEqual(
    strategiesAt(all, 'cop=acme,owt=web,pdl=shop').map((a) => [a.strategy.id, a.inherited, a.state]),
    [
      [2, true, 'applies'],
      [1, true, 'overridden'],
      [3, true, 'applies'],
    ],
  );
});

test('switched off at a node: it and the ones above it for that metric and tags are off there', () => {
  const all = [s(1, 'cop=acme', 'cpu.idle'), s(2, 'cop=acme,owt=web', 'cpu.idle', { off: true })];
  assert.deepEqual(
    strategiesAt(all, 'cop=acme,owt=web').map((a) => [a.strategy.id, a.state]),
    [
      [2, 'off'],
      [1, 'off'],
    ],
  );
  assert.deepEqual(
    strategiesAt(all, 'cop=acme').map((a) => [a.strategy.id, a.state]),
    [[1, 'applies']],
  );
});
