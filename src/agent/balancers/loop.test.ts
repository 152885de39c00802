/**
 * The agent's balancer loop with a stand-in applier: what the poll passes, when pools are
 * applied and reported (at once on a change, every 250 ms while a member drains with connections
 * open, else at the heartbeat), that each pool is applied on its own (a runtime pool never waits
 * for a file pool's apply, and the file pools of an offer start after its runtime pools), that an
 * untrusted answer is not applied, and that a server refusing `?balancers=` is polled without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { BalancerReport, DesiredBalancers } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { BalancerApplier } from './applier.js';
import { BALANCER_APPLY_CHANNEL, type BalancerApplyTiming, BalancerLoop, DRAIN_REPORT_MS } from './loop.js';
import { until } from './test-daemons.js';
import type { ValidPool } from './validate.js';

/** Applies nothing: records `NAME@INDEX` per apply, each pool held by its gate if it has one. */
class FakeApplier {
  applied: string[] = [];
  ended: string[] = [];
  drains = false;
  gates = new Map<string, Promise<void>>();
  plan(d: DesiredBalancers): { pools: ValidPool[]; refused: BalancerReport[] } {
    const refused = d.pools.filter((p) => p.name === 'bad');
    return {
      pools: d.pools.filter((p) => p.name !== 'bad') as unknown as ValidPool[],
      refused: refused.map((p) => ({
        name: p.name,
        index: d.index,
        ok: false,
        error: 'refused',
        at: '2026-12-03T10:00:00.000Z',
        members: [],
      })),
    };
  }
  /** held by its gate, or until cut (then, like haproxy's driver, it stops and has no report) */
  async applyPool(pool: ValidPool, index: number, cut?: AbortSignal): Promise<BalancerReport | undefined> {
    this.applied.push(`${pool.name}@${index}`);
    const gate = this.gates.get(pool.name);
    if (gate) await Promise.race([gate, new Promise((r) => cut?.addEventListener('abort', r, { once: true }))]);
    if (cut?.aborted) {
      this.ended.push(`${pool.name}@${index} cut`);
      return undefined;
    }
    this.ended.push(`${pool.name}@${index}`);
    return { name: pool.name, index, ok: true, at: '2026-12-03T10:00:00.000Z', members: [] };
  }
  draining(): boolean {
    return this.drains;
  }
  async filesWritten(): Promise<void> {}
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

/** Pools driven by file (nginx by reload); `NAME:haproxy` is a runtime pool. */
const pools = (index: number, names = ['web']): DesiredBalancers => ({
  index,
  pools: names.map((n) => {
    const [name, driver] = n.split(':') as [string, string | undefined];
    return driver === 'haproxy'
      ? { name, driver: 'haproxy', socket: '/run/haproxy.sock', backend: name, members: [] }
      : { name, driver: 'nginx', file: `/etc/nginx/${name}.conf`, members: [] };
  }),
});

/** A runtime pool `web` whose members are `ids`, each ready. */
const withMembers = (index: number, ids: string[]): DesiredBalancers => ({
  index,
  pools: [
    {
      name: 'web',
      driver: 'haproxy',
      socket: '/run/haproxy.sock',
      backend: 'web',
      members: ids.map((id, n) => ({
        id,
        address: '127.0.0.1',
        port: 5000 + n,
        state: 'ready',
        host: id,
        tag: 'cop.x_job.web',
        version: 'abcdef1',
        process: 'web',
      })),
    },
  ],
});

/** A gate and the function that opens it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

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
  assert.deepEqual(applier.applied, ['web@7', 'api@9']);
  await loop.stop();
});

test("an offer during a pool's apply is applied right after it, with the newest pools", async () => {
  const { applier, sent, loop } = setUp();
  const g = gate();
  applier.gates.set('web', g.promise);
  loop.offer(pools(1), true);
  await until('the first apply to start', () => applier.applied.length === 1);
  loop.offer(pools(2), true);
  loop.offer(pools(3), true);
  g.open();
  await until('the last pools applied', () => sent.length === 2);
  assert.deepEqual(applier.applied, ['web@1', 'web@3']);
  await loop.stop();
});

test('an offer that changes the members cuts the apply that runs: the newest follows at once, a burst is one apply, only it reports', async () => {
  const { applier, sent, loop } = setUp();
  const held = gate();
  applier.gates.set('web', held.promise); // only a cut ends the first apply
  loop.offer(withMembers(1, ['h1']), true);
  await until('the first apply to start', () => applier.applied.length === 1);
  loop.offer(withMembers(2, ['h1', 'h2']), true);
  loop.offer(withMembers(3, ['h1', 'h2', 'h3']), true);
  await until('the newest pools applying', () => applier.applied.length === 2);
  assert.deepEqual(applier.applied, ['web@1', 'web@3'], 'the burst of 2 and 3 is one apply, of the newest');
  assert.deepEqual(applier.ended, ['web@1 cut'], 'the first stopped without its gate opening');
  held.open();
  await until('3 reported', () => sent.length === 1);
  assert.deepEqual(
    sent.flat().map((r) => r.index),
    [3],
    'a cut apply has no report',
  );
  await loop.stop();
});

test('an offer cuts a periodic re-apply that runs: the change does not wait for it', async () => {
  const { applier, sent, loop } = setUp(100);
  loop.offer(withMembers(1, ['h1']), true);
  await until('the first report', () => sent.length >= 1);
  const held = gate();
  applier.gates.set('web', held.promise); // the re-applies from now on hang (a slow balancer)
  const before = applier.applied.length;
  await until('a re-apply running', () => applier.applied.length === before + 1);
  loop.offer(withMembers(2, ['h1', 'h2']), true);
  await until('the change applying', () => applier.applied.length === before + 2);
  assert.deepEqual(applier.ended.slice(-1), ['web@1 cut']);
  loop.offer(withMembers(3, ['h2']), true); // a cut re-apply does not count: the change after it may be cut too
  await until('the newest change applying', () => applier.applied.length === before + 3);
  assert.deepEqual(applier.ended.slice(-2), ['web@1 cut', 'web@2 cut']);
  held.open();
  await until('the newest change reported', () => sent.flat().some((r) => r.index === 3));
  assert.deepEqual(
    sent
      .flat()
      .map((r) => r.index)
      .filter((i) => i !== 1),
    [3],
    'no report of the cut change',
  );
  await loop.stop();
});

test('the apply after a cut one runs to its end, so that a lane reports however fast offers come', async () => {
  const { applier, sent, loop } = setUp();
  const first = gate();
  applier.gates.set('web', first.promise);
  loop.offer(withMembers(1, ['h1']), true);
  await until('the first apply to start', () => applier.applied.length === 1);
  loop.offer(withMembers(2, ['h1', 'h2']), true); // cuts 1
  await until('the second apply to start', () => applier.applied.length === 2);
  loop.offer(withMembers(3, ['h2']), true); // does not cut 2
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(applier.ended, ['web@1 cut'], '2 goes on');
  first.open();
  await until('3 reported', () => sent.flat().some((r) => r.index === 3));
  assert.deepEqual(applier.ended, ['web@1 cut', 'web@2', 'web@3']);
  assert.deepEqual(
    sent.flat().map((r) => r.index),
    [2, 3],
    'every apply that ended reported, the newest last: no update lost',
  );
  await loop.stop();
});

test('an offer that leaves a pool as it is does not cut its apply (a re-apply of the same members goes on)', async () => {
  const { applier, sent, loop } = setUp();
  const g = gate();
  applier.gates.set('web', g.promise);
  loop.offer(withMembers(1, ['h1']), true);
  await until('the first apply to start', () => applier.applied.length === 1);
  loop.offer({ ...withMembers(2, ['h1']) }, true); // another index (another pool of the host moved), the same members here
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(applier.ended, [], 'not cut');
  g.open();
  await until('both reported', () => sent.flat().some((r) => r.index === 2));
  assert.deepEqual(applier.ended, ['web@1', 'web@2']);
  await loop.stop();
});

test("a runtime pool's change does not wait for a file pool's apply (an nginx reload)", async () => {
  const { applier, sent, loop } = setUp();
  const reload = gate();
  applier.gates.set('edge', reload.promise);
  loop.offer(pools(1, ['edge', 'ha:haproxy']), true);
  await until('the file pool applying', () => applier.applied.includes('edge@1'));
  loop.offer(pools(2, ['edge', 'ha:haproxy']), true);
  await until('the runtime pool applied again, the file pool still on its way', () => applier.ended.includes('ha@2'));
  assert.deepEqual(applier.ended, ['ha@1', 'ha@2']);
  await until("the runtime pool's report sent", () => sent.some((r) => r.some((x) => x.name === 'ha' && x.index === 2)));
  reload.open();
  await until('the file pool applied with the newest pools', () => applier.ended.includes('edge@2'));
  assert.deepEqual(applier.applied, ['ha@1', 'edge@1', 'ha@2', 'edge@2']);
  await loop.stop();
});

test('the file pools of an offer start once its runtime pools are applied', async () => {
  const { applier, loop } = setUp();
  const socket = gate();
  applier.gates.set('ha', socket.promise);
  loop.offer(pools(1, ['ha:haproxy', 'edge', 'vip']), true);
  await until('the runtime pool applying', () => applier.applied.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(applier.applied, ['ha@1'], 'the file pools wait');
  socket.open();
  await until('the file pools applied', () => applier.ended.length === 3);
  assert.deepEqual(applier.applied, ['ha@1', 'edge@1', 'vip@1']);
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

test('each apply is published on the diagnostics channel, a re-apply marked periodic', async () => {
  const seen: BalancerApplyTiming[] = [];
  const listen = (m: unknown): void => void seen.push(m as BalancerApplyTiming);
  subscribe(BALANCER_APPLY_CHANNEL, listen);
  try {
    const { loop } = setUp(20);
    loop.offer(pools(4, ['ha:haproxy']), true);
    await until('a re-apply', () => seen.length >= 2);
    await loop.stop();
    assert.deepEqual(
      seen.slice(0, 2).map((t) => [t.pool, t.driver, t.index, t.periodic, t.ok]),
      [
        ['ha', 'haproxy', 4, false, true],
        ['ha', 'haproxy', 4, true, true],
      ],
    );
    assert.ok(seen.every((t) => t.offeredAt <= t.startedAt && t.startedAt <= t.endedAt));
  } finally {
    unsubscribe(BALANCER_APPLY_CHANNEL, listen);
  }
});

test('no pools: nothing is sent and nothing scheduled', async () => {
  const { applier, sent, loop } = setUp(10);
  loop.offer({ index: 4, pools: [] }, true);
  await new Promise((r) => setTimeout(r, 50));
  await loop.stop();
  assert.deepEqual(applier.applied, []);
  assert.deepEqual(sent, []);
});

test('a refused pool is reported at once and logged once; a pool no longer named is not applied again', async () => {
  const { applier, sent, logs, loop } = setUp(20);
  loop.offer(pools(1, ['bad', 'web']), true);
  await until('both reported', () => sent.flat().some((r) => r.name === 'web'));
  assert.deepEqual(
    sent
      .flat()
      .filter((r) => r.name === 'bad')
      .map((r) => [r.index, r.ok]),
    [[1, false]],
  );
  loop.offer(pools(2, ['bad']), true);
  await until('the refusal reported again', () => sent.flat().filter((r) => r.name === 'bad').length === 2);
  const applies = applier.applied.length;
  await new Promise((r) => setTimeout(r, 100));
  await loop.stop();
  assert.equal(applier.applied.length, applies, 'web is no longer re-applied');
  assert.deepEqual(logs, ['balancer bad: refused']);
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
  await until('the second pools applied while the first report waits', () => applier.ended.length === 2);
  loop.offer(pools(3), true);
  await until('the third applied too', () => applier.ended.length === 3);
  assert.deepEqual(sent, [1], 'one report at a time');
  open();
  await until('the newest report sent', () => sent.length === 2);
  assert.deepEqual(sent, [1, 3], "the report of 2 was replaced by 3's, which says all of it");
  await loop.stop();
});

test('a re-apply of every pool sends their reports in one POST', async () => {
  const { sent, loop } = setUp(30);
  loop.offer(pools(1, ['ha:haproxy', 'edge', 'vip']), true);
  const all = (r: BalancerReport[]): boolean => r.map((x) => x.name).join() === 'edge,ha,vip';
  await until('three re-applies', () => sent.filter(all).length >= 3);
  await loop.stop();
  const first = sent.findIndex(all);
  assert.ok(first <= 3, 'the offer sent each pool as it was applied, three POSTs at most');
  assert.ok(sent.slice(first).every(all), 'every re-apply since: one POST with every pool');
});
