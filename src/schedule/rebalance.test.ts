import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet } from './fleet.js';
import { planRebalance } from './rebalance.js';
import { GiB, placeAsk, schedHost } from './testing.js';
import type { PlaceAsk, SchedHost } from './types.js';

/** A fleet where each ask already runs on its current hosts (allocations and jobs filled in). */
function placed(hosts: SchedHost[], asks: PlaceAsk[]): Fleet {
  const fleet = new Fleet(hosts);
  for (const ask of asks) for (const h of ask.current) fleet.take(fleet.numberOf(h)!, ask);
  return fleet;
}

test('bin-packing: the emptiest hosts are emptied into fuller ones, a whole host at a time', () => {
  const hosts = ['a', 'b', 'c', 'd'].map((n) => schedHost(n));
  const asks = [
    placeAsk('one', { count: 1, cpu: 1, memory: GiB }, { current: ['a'] }),
    placeAsk('two', { count: 1, cpu: 1, memory: GiB }, { current: ['b'] }),
    placeAsk('big', { count: 2, cpu: 2, memory: 4 * GiB }, { current: ['c', 'd'] }),
  ];
  const fleet = placed(hosts, asks);
  const view = planRebalance(fleet, asks, 10);
  assert.equal(view.dryRun, false);
  assert.deepEqual(view.freedHosts, ['a', 'b']);
  assert.equal(view.moves.length, 2);
  for (const m of view.moves) {
    assert.ok(['c', 'd'].includes(m.to), `${m.tag} moves to a fuller host, not ${m.to}`);
    assert.equal(m.reason, `free host ${m.from}`);
  }
  // pure: the fleet given is unchanged
  assert.deepEqual(fleet.host('a')!.allocated, { cpu: 1, memory: GiB, disk: 0 });
});

test('bin-packing: the budget of moves is kept, and a host is freed whole or not touched', () => {
  const hosts = ['a', 'b', 'c'].map((n) => schedHost(n));
  const asks = [
    placeAsk('x', { count: 1, cpu: 0.5, memory: GiB }, { current: ['a'] }),
    placeAsk('y', { count: 1, cpu: 0.5, memory: GiB }, { current: ['a'] }),
    placeAsk('z', { count: 1, cpu: 1, memory: 2 * GiB }, { current: ['b'] }),
    placeAsk('w', { count: 1, cpu: 3, memory: 4 * GiB }, { current: ['c'] }),
  ];
  const view = planRebalance(placed(hosts, asks), asks, 1);
  assert.ok(view.moves.length <= 1);
  // a (two instances) cannot be emptied with one move; b's one instance fits on c
  assert.deepEqual(view.moves, [{ tag: 'z', from: 'b', to: 'c', reason: 'free host b' }]);
  assert.deepEqual(view.freedHosts, ['b']);
  assert.deepEqual(
    planRebalance(
      placed(
        hosts.map((h) => schedHost(h.name)),
        asks,
      ),
      asks,
      0,
    ).moves,
    [],
  );
});

test('spread: a cluster crowded on one label value is evened out', () => {
  const hosts: SchedHost[] = [];
  for (const rack of ['r1', 'r2']) for (let i = 0; i < 4; i++) hosts.push(schedHost(`${rack}-${i}`, { labels: { rack } }));
  const ask = placeAsk('web', { count: 4, spread: 'rack' }, { current: ['r1-0', 'r1-1', 'r1-2', 'r1-3'] });
  const view = planRebalance(placed(hosts, [ask]), [ask], 5);
  assert.equal(view.moves.length, 2);
  for (const m of view.moves) {
    assert.ok(m.from.startsWith('r1') && m.to.startsWith('r2'));
    assert.match(m.reason, /^even out rack: rack=r1 had \d, rack=r2 \d$/);
  }
  assert.deepEqual(
    planRebalance(
      placed(
        hosts.map((h) => schedHost(h.name, { labels: h.labels })),
        [ask],
      ),
      [ask],
      1,
    ).moves.length,
    1,
  );
});

test('nothing to gain: no moves', () => {
  const hosts = ['a', 'b'].map((n) => schedHost(n));
  const asks = [placeAsk('big', { count: 2, cpu: 3, memory: 6 * GiB }, { current: ['a', 'b'] })];
  assert.deepEqual(planRebalance(placed(hosts, asks), asks, 10), { dryRun: false, moves: [], freedHosts: [] });
});

test('a host that took an instance is not freed next (its own instances moved, the new one left behind)', () => {
  // a (the emptiest) empties into b, the only fuller host x may use; b then holds x and y, and
  // moving y to d would not free it: the move would be churn under a false reason
  const hosts = [
    schedHost('a', { capacity: { cpu: 8, memory: 8 * GiB, disk: 0 } }),
    schedHost('b'),
    schedHost('c'),
    schedHost('d', { labels: { rack: 'r9' } }),
  ];
  const asks = [
    placeAsk('x', { count: 1, cpu: 1, memory: 0, constraints: [{ label: 'rack', op: '!=', value: 'r9' }] }, { current: ['a'] }),
    placeAsk('y', { count: 1, cpu: 1, memory: 0 }, { current: ['b'] }),
    placeAsk('v', { count: 1, cpu: 4, memory: 0 }, { current: ['c'] }),
    placeAsk('w', { count: 1, cpu: 3, memory: 0 }, { current: ['d'] }),
  ];
  const view = planRebalance(placed(hosts, asks), asks, 10);
  assert.deepEqual(view.moves, [{ tag: 'x', from: 'a', to: 'b', reason: 'free host a' }]);
  assert.deepEqual(view.freedHosts, ['a']);
});

test('a host that is down, unheard or draining keeps its instances: the loop migrates them, within its budget', () => {
  for (const over of [{ up: false }, { unheard: true }, { draining: true }]) {
    const hosts = [schedHost('a', over), schedHost('b')];
    const asks = [
      placeAsk('x', { count: 1, cpu: 1, memory: 0 }, { current: ['a'] }),
      placeAsk('y', { count: 1, cpu: 2, memory: 0 }, { current: ['b'] }),
    ];
    assert.deepEqual(planRebalance(placed(hosts, asks), asks, 10).moves, [], JSON.stringify(over));
  }
});

test('replicas: a host running several instances of a cluster is freed by one move each; distinct hosts and fixed ports are kept', () => {
  const hosts = ['a', 'b', 'c'].map((n) => schedHost(n));
  // two replicas of web on a; c is the fullest and runs web too; b holds db
  const asks = [
    placeAsk('web', { count: 3, cpu: 0.5, memory: GiB }, { current: ['a', 'a', 'c'] }),
    placeAsk('db', { count: 1, cpu: 2, memory: 3 * GiB }, { current: ['b'] }),
    placeAsk('cache', { count: 1, cpu: 2, memory: 2 * GiB }, { current: ['c'] }),
  ];
  const view = planRebalance(placed(hosts, asks), asks, 10);
  assert.deepEqual(view.freedHosts, ['a']);
  assert.deepEqual(
    view.moves.map((m) => [m.tag, m.from, m.to]),
    [
      ['web', 'a', 'c'],
      ['web', 'a', 'c'],
    ],
    'both replicas go to the fullest host with room, which runs web already',
  );
  // a fixed port: one instance per host, so c (which runs web) cannot take another
  const ported = asks.map((a) => (a.tag === 'web' ? { ...a, ports: [8080] } : a));
  const moves = planRebalance(
    placed(
      hosts.map((h) => schedHost(h.name)),
      ported,
    ),
    ported,
    10,
  ).moves;
  assert.ok(!moves.some((m) => m.tag === 'web' && m.to === 'c'), `no second web on c: ${JSON.stringify(moves)}`);
  // the budget covers a host whole or not at all: two replicas need two moves
  assert.deepEqual(
    planRebalance(
      placed(
        hosts.map((h) => schedHost(h.name)),
        asks,
      ),
      asks,
      1,
    ).freedHosts,
    [],
  );
});
