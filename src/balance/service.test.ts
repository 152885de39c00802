import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { LocalChangeBus } from '../bus/index.js';
import { Balancers } from './service.js';
import { FakeRuns, MemoryBalanceStore, upProcess } from './testing.js';
import { BALANCER_INDEX_CHANNEL, type BalancerIndexTiming, NO_POOLS_INDEX } from './view.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';

async function setup(): Promise<{ runs: FakeRuns; store: MemoryBalanceStore; balancers: Balancers; bus: LocalChangeBus }> {
  const runs = new FakeRuns();
  const store = new MemoryBalanceStore();
  store.addHost('h1', '::ffff:10.0.0.1');
  store.addHost('h2', '10.0.0.2');
  store.addHost('lb', '10.0.0.9');
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web' });
  const bus = new LocalChangeBus();
  const balancers = new Balancers({ reports: runs, store, bus, view: { hostsRefreshMs: 60_000, reloadMs: 60_000 } });
  await balancers.start();
  return { runs, store, balancers, bus };
}

test("a parked function wakes once at its host's next index move; not parked when the index moved already, nor after an unpark", async () => {
  const { runs, balancers } = await setup();
  const view = balancers.view;
  runs.report('lb', []);
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  const index = view.index('lb');
  const calls: string[] = [];
  const one = (): void => void calls.push('one');
  const gone = (): void => void calls.push('gone');
  assert.equal(view.park('lb', index + 1, one), false, 'an agent behind: answered at once, nothing parked');
  assert.equal(view.parked, 0);
  assert.equal(view.park('lb', index, one), true);
  assert.equal(view.park('lb', index, gone), true);
  assert.equal(view.parked, 2);
  view.unpark('lb', gone);
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]); // the same again: no move
  assert.deepEqual(calls, []);
  runs.report('h2', [upProcess(SHOP, 'aaaaaaaaa')]); // a member more: the index moves
  assert.notEqual(view.index('lb'), index);
  assert.deepEqual(calls, ['one'], 'woken once, the unparked one not at all');
  assert.equal(view.parked, 0);
  // a host that drives no pool parks on NO_POOLS_INDEX, and wakes when a pool names it
  assert.equal(view.park('h1', NO_POOLS_INDEX, one), true);
  view.close();
  assert.deepEqual(calls, ['one', 'one'], 'close answers every parked poll');
});

test("a balancer host's pools follow the instances' health, and its parked poll wakes at a change only", async () => {
  const { runs, store, balancers } = await setup();
  const view = balancers.view;
  assert.equal(view.drives('lb'), true);
  assert.equal(view.drives('h1'), false);
  assert.equal(view.desired('h1').index, NO_POOLS_INDEX);
  runs.report('lb', []);
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  runs.report('h2', [upProcess(SHOP, 'aaaaaaaaa', { health: 'starting' })]);
  const first = view.desired('lb');
  assert.deepEqual(
    first.pools[0]!.members.map((m) => [m.host, m.address, m.port, m.state]),
    [
      ['h1', '10.0.0.1', 8080, 'ready'],
      ['h2', '10.0.0.2', 8080, 'maint'],
    ],
  );
  assert.deepEqual(
    { ...first.pools[0], members: [] },
    { name: 'web', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web', members: [] },
  );
  let woke = false;
  const parked = view.wait('lb', first.index, 10_000).then(() => (woke = true));
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]); // the same again
  await new Promise((r) => setImmediate(r));
  assert.equal(woke, false, 'nothing changed: still parked');
  const started = Date.now();
  runs.report('h2', [upProcess(SHOP, 'aaaaaaaaa')]);
  await parked;
  assert.ok(Date.now() - started < 100, 'woken by the change');
  assert.notEqual(view.index('lb'), first.index);
  assert.equal(view.desired('lb').pools[0]!.members[1]!.state, 'ready');
  // a host that stops reporting: maint once its down-after passes (the others go on reporting)
  const index = view.index('lb');
  runs.downAfterMs = 200;
  runs.report('h2', [upProcess(SHOP, 'aaaaaaaaa')]); // its last report
  const others = setInterval(() => {
    runs.report('lb', []);
    runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  }, 50);
  try {
    await view.wait('lb', index, 5_000);
  } finally {
    clearInterval(others);
  }
  assert.ok(Date.now() - runs.seenAt.get('h2')! > 200, 'not before its down-after');
  assert.deepEqual(
    view.desired('lb').pools[0]!.members.map((m) => [m.host, m.state]),
    [
      ['h1', 'ready'],
      ['h2', 'maint'],
    ],
  );
  // a pool removed (another server: the bus) takes its host's pools with it
  store.pools.delete('web');
  await balancers.changed('web');
  assert.equal(view.drives('lb'), false);
  balancers.close();
});

test('a report for a pool of another host is refused and nothing is stored; show has what the agent applied', async () => {
  const { runs, store, balancers } = await setup();
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  const id = balancers.view.desiredMembers('web')[0]!.id;
  const report = {
    name: 'web',
    index: balancers.view.index('lb'),
    ok: true,
    at: new Date().toISOString(),
    members: [{ id, state: 'ready' as const, connections: 3 }],
  };
  await assert.rejects(balancers.receive('h1', [report]), { code: 'NOOPS_E_FORBIDDEN' });
  assert.equal(store.reports.size, 0);
  assert.deepEqual(balancers.view.members('web')[0]!.applied, undefined, 'no report yet');
  assert.deepEqual(await balancers.receive('lb', [report, { ...report, name: 'gone' }]), { stored: 1 });
  assert.equal(store.reports.get('web')!.host, 'lb');
  assert.deepEqual(balancers.view.members('web')[0]!.applied, { state: 'ready', connections: 3 });
  runs.report('h2', [upProcess(SHOP, 'aaaaaaaaa')]);
  assert.deepEqual(balancers.view.members('web')[1]!.applied, { state: 'absent', connections: null }, 'not in the balancer yet');
  balancers.close();
});

test('a drain mark written on another server reaches this view through the bus; an expired one counts for nothing', async () => {
  const { runs, store, balancers, bus } = await setup();
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  const index = balancers.view.index('lb');
  await store.putDrain({ host: 'h1', tag: SHOP, version: null, until: new Date(Date.now() + 150).toISOString(), reason: 'elsewhere' });
  await bus.publish('balancers', 'drain');
  await balancers.view.wait('lb', index, 5_000);
  assert.equal(balancers.view.desiredMembers('web')[0]!.state, 'drain');
  await balancers.view.wait('lb', balancers.view.index('lb'), 5_000); // the mark expires: its timer works the pools out again
  assert.equal(balancers.view.desiredMembers('web')[0]!.state, 'ready');
  balancers.close();
});

test('with no pool stored, reports are not worked out; the first pool set takes every host as it runs', async () => {
  const { runs, store, balancers } = await setup();
  store.pools.delete('web');
  await balancers.changed('web');
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  assert.equal(balancers.view.drives('lb'), false);
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'nginx', file: '/etc/nginx/conf.d/web.conf' });
  await balancers.changed('web');
  assert.deepEqual(
    balancers.view.desiredMembers('web').map((m) => [m.host, m.state]),
    [['h1', 'ready']],
  );
  balancers.close();
});

test("another server's stored report reaches this view through the bus", async () => {
  const { store, balancers, bus } = await setup();
  const report = { name: 'web', index: 1, ok: true, at: new Date().toISOString(), members: [] };
  await store.putBalancerReport({ host: 'lb', report, receivedAt: report.at });
  let heard = false;
  balancers.view.once('change', () => (heard = true));
  await bus.publish('balancers', 'report:web');
  const deadline = Date.now() + 5_000;
  while (!heard && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(balancers.view.report('web')?.report, report);
  balancers.close();
});

test("a pool's member is a container's own address when its process reports one, else its host's", async () => {
  const { runs, balancers } = await setup();
  runs.report('lb', []);
  runs.report('h1', [{ ...upProcess(SHOP, 'aaaaaaaaa'), container: 'c0ffee', address: '198.18.0.2' }]);
  runs.report('h2', [{ ...upProcess(SHOP, 'aaaaaaaaa'), container: null, address: null }]);
  assert.deepEqual(
    balancers.view.desired('lb').pools[0]!.members.map((m) => [m.host, m.address, m.port]),
    [
      ['h1', '198.18.0.2', 8080],
      ['h2', '10.0.0.2', 8080],
    ],
  );
  balancers.close();
});

test("with no pool stored, no host's row is read; the first pool stored reads them and gives its members their addresses", async () => {
  const runs = new FakeRuns();
  const store = new MemoryBalanceStore();
  store.addHost('h1', '10.0.0.1');
  store.addHost('lb', '10.0.0.9');
  let reads = 0;
  const listHosts = store.listHosts.bind(store);
  store.listHosts = async () => {
    reads++;
    return listHosts();
  };
  const bus = new LocalChangeBus();
  const balancers = new Balancers({ reports: runs, store, bus, view: { hostsRefreshMs: 10, reloadMs: 60_000 } });
  await balancers.start();
  runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  await new Promise((r) => setTimeout(r, 100)); // ten refreshes of the hosts' rows, had they read
  assert.equal(reads, 0);
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web' });
  await balancers.view.reload();
  const deadline = Date.now() + 10_000;
  while (balancers.view.desired('lb').pools[0]?.members[0]?.address !== '10.0.0.1' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    balancers.view.desired('lb').pools[0]!.members.map((m) => [m.host, m.address, m.state]),
    [['h1', '10.0.0.1', 'ready']],
  );
  assert.ok(reads > 0);
  balancers.close();
});

test("each move of a balancer host's index is published on the diagnostics channel, with its members' states", async () => {
  const { runs, balancers } = await setup();
  const moves: BalancerIndexTiming[] = [];
  const listen = (m: unknown): void => void moves.push(m as BalancerIndexTiming);
  subscribe(BALANCER_INDEX_CHANNEL, listen);
  try {
    runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa', { health: 'starting' })]);
    runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa', { health: 'starting' })]); // the same: no move
    runs.report('h1', [upProcess(SHOP, 'aaaaaaaaa')]);
  } finally {
    unsubscribe(BALANCER_INDEX_CHANNEL, listen);
  }
  assert.deepEqual(
    moves.map((m) => [m.host, m.index, m.members]),
    [
      ['lb', moves[0]!.index, [['web', [[8080, 'maint']]]]],
      ['lb', balancers.view.index('lb'), [['web', [[8080, 'ready']]]]],
    ],
  );
  assert.notEqual(moves[0]!.index, moves[1]!.index);
  balancers.close();
});
