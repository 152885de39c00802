import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS, type ChangeBus, type Channel, LocalChangeBus, Subscribers } from '../bus/index.js';
import { DesiredHub, WAKE_SLICE } from './hub.js';

/** Two servers' buses joined as PostgreSQL joins them: each tells its own subscribers, then the other's. */
function busPair(): [ChangeBus & { resync(): void }, ChangeBus & { resync(): void }] {
  const make = (): ChangeBus & { subs: Subscribers; peer?: { subs: Subscribers }; resync(): void } => {
    const subs = new Subscribers();
    const bus = {
      subs,
      peer: undefined as { subs: Subscribers } | undefined,
      async publish(channel: Channel, payload: string) {
        subs.deliver(channel, payload);
        await new Promise((r) => setImmediate(r)); // the other server hears it later
        bus.peer?.subs.deliver(channel, payload);
      },
      subscribe: (channel: Channel, s: Parameters<ChangeBus['subscribe']>[1]) => subs.add(channel, s),
      close: async () => subs.clear(),
      resync: () => subs.resyncAll(),
    };
    return bus;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

test("a notify on one server wakes the other's parked poll, after its listeners, and comes back to no one twice", async () => {
  const [busA, busB] = busPair();
  const a = new DesiredHub(busA);
  const b = new DesiredHub(busB);
  const told: string[] = [];
  a.listen((h) => told.push(`a ${h}`));
  b.listen((h) => told.push(`b ${h}`));
  const parked = b.wait('h1', 60_000).then(() => told.push('b answered'));
  assert.equal(b.waiting('h1'), 1);
  a.notify('h1');
  assert.deepEqual(told, ['a h1'], 'here at once');
  await parked;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(told, ['a h1', 'b h1', 'b answered']);
  assert.equal(b.waiting('h1'), 0);
});

test('a resync wakes every poll parked here; close stops hearing the bus', async () => {
  const [busA, busB] = busPair();
  const b = new DesiredHub(busB);
  const polls = [b.wait('h1', 60_000), b.wait('h2', 60_000)];
  busB.resync();
  await Promise.all(polls);
  b.close();
  const after = b.wait('h1', 50);
  let woken = false;
  busA.publish(CHANNELS.desired, 'h1').then(() => (woken = b.waiting('h1') === 0));
  await after;
  assert.equal(woken, false, 'a closed hub is not woken by the bus (its poll ran to its timeout)');
});

test('without a bus, a hub wakes its own polls (one process)', async () => {
  const hub = new DesiredHub();
  const poll = hub.wait('h1', 60_000);
  hub.notify('h1');
  await poll;
  const shared = new LocalChangeBus();
  const one = new DesiredHub(shared);
  const two = new DesiredHub(shared);
  const both = [one.wait('x', 60_000), two.wait('x', 60_000)];
  one.notify('x');
  await Promise.all(both);
});

test('a wake of more than WAKE_SLICE hosts wakes their polls a slice at a time, two turns apart, and every one in the end', async () => {
  const hub = new DesiredHub();
  const told: string[] = [];
  hub.listen((h) => told.push(h));
  const hosts = Array.from({ length: 2 * WAKE_SLICE + 1 }, (_, i) => `h${i}`);
  const woken: string[] = [];
  for (const h of hosts) hub.park(h, () => woken.push(h));
  for (const h of hosts) hub.notify(h);
  assert.equal(told.length, hosts.length, 'the listeners hear every host at once');
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  await turn(); // the wake's own turn
  assert.deepEqual(woken, hosts.slice(0, WAKE_SLICE), 'the first slice, in the order notified');
  await turn();
  assert.equal(woken.length, WAKE_SLICE, 'the turn between: the next slice waits');
  await turn();
  assert.deepEqual(woken, hosts.slice(0, 2 * WAKE_SLICE));
  await turn();
  await turn();
  assert.deepEqual(woken, hosts, 'every poll woken, each once');
  assert.equal(hub.waiting(hosts.at(-1)!), 0);
});

test('notifyAll (the server stops) wakes every parked poll at once, past a slice, after its listeners; a closed hub wakes no slice more', async () => {
  const hub = new DesiredHub();
  const told: string[] = [];
  hub.listen((h) => told.push(h));
  const hosts = Array.from({ length: 2 * WAKE_SLICE }, (_, i) => `h${i}`);
  const woken: string[] = [];
  for (const h of hosts) hub.park(h, () => woken.push(h));
  hub.notifyAll();
  assert.deepEqual(woken, hosts, 'every poll, in this turn');
  assert.deepEqual(told, hosts);
  // a wake in slices, then the hub closes: the slices still to come are not woken
  for (const h of hosts) hub.park(h, () => woken.push(h));
  for (const h of hosts) hub.notify(h);
  await new Promise((r) => setImmediate(r));
  assert.equal(woken.length, 3 * WAKE_SLICE, 'the first slice');
  hub.close();
  for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r));
  assert.equal(woken.length, 3 * WAKE_SLICE, 'no slice after close');
});

test('a pace that never resolves holds each slice for its cap, not for good', async () => {
  const hub = new DesiredHub();
  hub.pace(() => new Promise(() => undefined), 20);
  const hosts = Array.from({ length: 2 * WAKE_SLICE + 1 }, (_, i) => `h${i}`);
  const woken: string[] = [];
  const all = new Promise<void>((resolve) => {
    for (const h of hosts)
      hub.park(h, () => {
        woken.push(h);
        if (woken.length === hosts.length) resolve();
      });
  });
  for (const h of hosts) hub.notify(h);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([all.then(() => 'all woken'), new Promise((r) => (timer = setTimeout(() => r('held'), 20_000)))]);
  clearTimeout(timer);
  assert.equal(outcome, 'all woken');
  assert.deepEqual(woken, hosts);
});

/** Runs `fn` with the process's warnings collected in `warnings` (emptied by `fn` as it likes). */
async function withWarnings(fn: (warnings: string[]) => Promise<void>): Promise<void> {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await fn(warnings);
  } finally {
    process.off('warning', onWarning);
  }
}

const broken = (): never => {
  throw new Error('a broken poll');
};

test("a poll whose code throws is logged, and every other poll wakes: its host's, its wake's, a wake's in slices", () =>
  withWarnings(async (warnings) => {
    const hub = new DesiredHub();
    const woken: string[] = [];
    for (const size of [3, 2 * WAKE_SLICE + 1]) {
      woken.length = 0;
      warnings.length = 0;
      const hosts = Array.from({ length: size }, (_, i) => `h${i}`);
      hub.park('h0', broken); // the first host's first poll throws; its second poll and the other hosts' still wake
      for (const h of hosts) hub.park(h, () => woken.push(h));
      const all = new Promise<void>((resolve) => hub.park(`h${size - 1}`, resolve));
      for (const h of hosts) hub.notify(h);
      await all;
      await new Promise((r) => setImmediate(r)); // the warnings are emitted on the next tick
      assert.deepEqual(woken, hosts, `${size} hosts: every other poll woken, once`);
      assert.equal(warnings.length, 1, `${size} hosts: the throw logged once`);
      assert.match(warnings[0]!, /waking a poll of h0 failed: Error: a broken poll/);
    }
  }));

test('notifyAll (the server stops) wakes every other poll when one throws, and throws nothing itself', () =>
  withWarnings(async (warnings) => {
    const hub = new DesiredHub();
    const woken: string[] = [];
    hub.park('h0', broken);
    for (const h of ['h0', 'h1', 'h2']) hub.park(h, () => woken.push(h));
    assert.doesNotThrow(() => hub.notifyAll());
    assert.deepEqual(woken, ['h0', 'h1', 'h2']);
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /waking a poll failed: Error: a broken poll/);
  }));
