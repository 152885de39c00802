/**
 * The agent's balancer loop with a stand-in applier: what the poll passes, when pools are
 * applied and reported (at once on a change, every 250 ms while a member drains with connections
 * open, else at the heartbeat), that an untrusted answer is not applied, and that a server
 * refusing `?balancers=` is polled without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancerReport, DesiredBalancers } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { BalancerApplier } from './applier.js';
import { BalancerLoop, DRAIN_REPORT_MS } from './loop.js';
import { until } from './test-daemons.js';

class FakeApplier {
  applied: DesiredBalancers[] = [];
  drains = false;
  gate: Promise<void> | undefined;
  async apply(d: DesiredBalancers): Promise<BalancerReport[]> {
    this.applied.push(d);
    await this.gate;
    return d.pools.map((p) => ({ name: p.name, index: d.index, ok: true, at: '2026-12-03T10:00:00.000Z', members: [] }));
  }
  draining(): boolean {
    return this.drains;
  }
}

function setUp(heartbeatMs = 60_000, send?: (r: BalancerReport[]) => Promise<void>) {
  const applier = new FakeApplier();
  const sent: BalancerReport[][] = [];
  const logs: string[] = [];
  const loop = new BalancerLoop({
    applier: applier as unknown as BalancerApplier,
    send: send ?? (async (r) => void sent.push(r)),
    heartbeatMs: () => heartbeatMs,
    log: (l) => logs.push(l),
  });
  return { applier, sent, logs, loop };
}

const pools = (index: number, names = ['web']): DesiredBalancers => ({
  index,
  pools: names.map((name) => ({ name, driver: 'nginx', file: `/etc/nginx/${name}.conf`, members: [] })),
});

test('a new index is applied and reported at once; the poll passes the last index seen', async () => {
  const { applier, sent, loop } = setUp();
  assert.equal(loop.pollIndex(), 0);
  loop.offer(undefined, true); // a host that drives nothing: no balancers in the answer
  loop.offer(pools(7), true);
  assert.equal(loop.pollIndex(), 7);
  await until('the report', () => sent.length === 1);
  assert.deepEqual(
    sent[0]!.map((r) => [r.name, r.index]),
    [['web', 7]],
  );
  loop.offer({ index: 'x', pools: [] } as unknown as DesiredBalancers, true); // does not parse: ignored
  assert.equal(loop.pollIndex(), 7);
  loop.offer(pools(7), true); // the same pools (an answer woken by a command): nothing new
  loop.offer(pools(8, ['web', 'api']), false); // from a server whose state was refused: seen, not applied
  assert.equal(loop.pollIndex(), 8);
  loop.offer(pools(9, ['api']), true);
  await until('the second report', () => sent.length === 2);
  assert.deepEqual(
    applier.applied.map((d) => d.index),
    [7, 9],
  );
  await loop.stop();
});

test('an offer during an apply is applied right after it', async () => {
  const { applier, sent, loop } = setUp();
  let open!: () => void;
  applier.gate = new Promise((r) => (open = r));
  loop.offer(pools(1), true);
  await until('the first apply to start', () => applier.applied.length === 1);
  loop.offer(pools(2), true);
  loop.offer(pools(3), true);
  open();
  await until('the last pools applied', () => sent.length === 2);
  assert.deepEqual(
    applier.applied.map((d) => d.index),
    [1, 3],
  );
  await loop.stop();
});

test('every 250 ms while a member drains with connections open, else at the heartbeat', async () => {
  const { applier, sent, loop } = setUp(60_000);
  applier.drains = true;
  const started = Date.now();
  loop.offer(pools(1), true);
  await until('four reports', () => sent.length >= 4, 5000);
  const took = Date.now() - started;
  assert.ok(took >= 3 * DRAIN_REPORT_MS - 20 && took < 10_000, `four reports in ${took} ms`);
  await loop.stop();

  const beat = setUp(50);
  beat.loop.offer(pools(1), true);
  await until('reports at the heartbeat', () => beat.sent.length >= 3, 5000);
  await beat.loop.stop();
  const after = beat.applier.applied.length;
  beat.loop.offer(pools(2), true);
  assert.equal(beat.applier.applied.length, after, 'stopped: nothing more is applied');
});

test('no pools: nothing is sent and nothing scheduled', async () => {
  const { applier, sent, loop } = setUp(10);
  loop.offer({ index: 4, pools: [] }, true);
  await until('the apply', () => applier.applied.length === 1);
  await loop.stop();
  assert.deepEqual(sent, []);
});

test('a failing send is logged once and the loop goes on', async () => {
  let calls = 0;
  const { logs, loop } = setUp(20, async () => {
    calls++;
    throw new NoopsError('NOOPS_E_NOT_FOUND', 'no route POST /agent/balancers');
  });
  loop.offer(pools(1), true);
  await until('several sends', () => calls >= 3);
  await loop.stop();
  assert.deepEqual(logs, ['balancer report failed: no route POST /agent/balancers']);
});

test('a server that refuses ?balancers= is polled without it', () => {
  const { loop } = setUp();
  assert.equal(loop.refusedBy(new NoopsError('NOOPS_E_INPUT', 'desired state: after must be an integer')), false);
  assert.equal(loop.refusedBy(new Error('desired state: unknown parameter "balancers"')), false);
  assert.equal(loop.pollIndex(), 0);
  assert.equal(loop.refusedBy(new NoopsError('NOOPS_E_INPUT', 'desired state: unknown parameter "balancers"')), true);
  assert.equal(loop.pollIndex(), undefined);
  assert.equal(loop.refusedBy(new NoopsError('NOOPS_E_INPUT', 'desired state: unknown parameter "balancers"')), false, 'once');
  loop.offer(pools(5), false);
  assert.equal(loop.pollIndex(), undefined);
});

test('a report on its way does not hold back the next apply; the newest report waiting replaces the others', async () => {
  let open: () => void = () => undefined;
  const sent: number[] = [];
  const { applier, loop } = setUp(60_000, async (r) => {
    sent.push(r[0]!.index);
    if (sent.length === 1) await new Promise<void>((resolve) => (open = resolve));
  });
  loop.offer(pools(1), true);
  await until('the first report on its way', () => sent.length === 1);
  loop.offer(pools(2), true);
  await until('the second pools applied while the first report waits', () => applier.applied.length === 2);
  loop.offer(pools(3), true);
  await until('the third applied too', () => applier.applied.length === 3);
  assert.deepEqual(sent, [1], 'one report at a time');
  open();
  await until('the newest report sent', () => sent.length === 2);
  assert.deepEqual(sent, [1, 3], "the report of 2 was replaced by 3's, which says all of it");
  await loop.stop();
});
