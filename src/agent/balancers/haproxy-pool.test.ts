/**
 * The haproxy driver through the applier, against a real haproxy started by the test, with
 * traffic through it to two (then three) small HTTP servers: members added, drained (no new
 * requests, the open one goes on and is counted), made ready again, moved, and removed once
 * their last session ended.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancerReport, DesiredMember, MemberState } from '../../api/index.js';
import { BalancerApplier } from './applier.js';
import { HaproxyClient } from './haproxy.js';
import { applyHaproxyPool, HaproxyDriver, KNOWN_FRESH_MS } from './haproxy-pool.js';
import { HAPROXY, hit, missing, startBackend, startHaproxy, until, type Backend, type RunningHaproxy } from './test-daemons.js';

const skip = missing(HAPROXY);
let haproxy: RunningHaproxy;
let a: Backend;
let b: Backend;
let c: Backend;

before(async () => {
  if (skip) return;
  haproxy = await startHaproxy();
  [a, b, c] = await Promise.all([startBackend('a'), startBackend('b'), startBackend('c')]);
});
after(async () => {
  await haproxy?.stop();
  await Promise.all([a, b, c].map((s) => s?.close()));
});

function member(id: string, backend: Backend, state: MemberState): DesiredMember {
  return { id, address: '127.0.0.1', port: backend.port, state, host: 'h1', tag: 'cop.x_job.web', version: 'abcdef1', process: 'web' };
}

/** The test's pool on the running haproxy, with these members. */
function pool(members: DesiredMember[]) {
  return { name: 'web', driver: 'haproxy' as const, socket: haproxy.socket, backend: haproxy.backend, members };
}

/** Who answered `n` requests through haproxy, counted by name. */
async function spread(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = await hit(haproxy.url);
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

function held(report: BalancerReport): Record<string, string> {
  return Object.fromEntries(report.members.map((m) => [m.id, `${m.state}/${m.connections}`]));
}

test('the pool follows: add, drain with an open request, ready, move, remove after the last session', { skip }, async () => {
  const applier = new BalancerApplier();
  let index = 0;
  const apply = async (members: DesiredMember[]): Promise<BalancerReport> => {
    const [report] = await applier.apply({ index: ++index, pools: [pool(members)] });
    assert.equal(report!.ok, true, report!.error);
    assert.equal(report!.index, index);
    return report!;
  };

  // added: both take requests
  assert.deepEqual(held(await apply([member('h1_a', a, 'ready'), member('h1_b', b, 'ready')])), { h1_a: 'ready/0', h1_b: 'ready/0' });
  assert.deepEqual(await spread(10), { a: 5, b: 5 });

  // a request held open on a (b out of the way), then a drains while b takes everything new
  await apply([member('h1_a', a, 'ready'), member('h1_b', b, 'maint')]);
  const hitsOfA = a.hits;
  const open = hit(`${haproxy.url}/hold`);
  await until('the held request to reach a', () => a.hits === hitsOfA + 1);
  const draining = await apply([member('h1_a', a, 'drain'), member('h1_b', b, 'ready')]);
  assert.deepEqual(held(draining), { h1_a: 'drain/1', h1_b: 'ready/0' });
  assert.equal(applier.draining(), true);
  assert.deepEqual(await spread(10), { b: 10 }, 'a drained server gets no new requests');
  a.release();
  assert.equal(await open, 'a', 'the open request ends normally');
  await until(
    'the drain to end',
    async () => held(await apply([member('h1_a', a, 'drain'), member('h1_b', b, 'ready')])).h1_a === 'drain/0',
  );
  assert.equal(applier.draining(), false);

  // ready again, then moved in place to c's port (same id: a new version on the same host)
  await apply([member('h1_a', a, 'ready'), member('h1_b', b, 'ready')]);
  assert.deepEqual(await spread(4), { a: 2, b: 2 });
  await apply([member('h1_a', c, 'ready'), member('h1_b', b, 'ready')]);
  const servers = await new HaproxyClient(haproxy.socket).servers(haproxy.backend);
  assert.deepEqual(
    servers.map((s) => [s.id, s.port]),
    [
      ['h1_a', c.port],
      ['h1_b', b.port],
    ],
  );
  assert.deepEqual(await spread(4), { c: 2, b: 2 });

  // no longer named while a session is open: maint at once, deleted once the session ends
  await apply([member('h1_a', c, 'ready'), member('h1_b', b, 'maint')]);
  const hitsOfC = c.hits;
  const openOnC = hit(`${haproxy.url}/hold`);
  await until('the held request to reach c', () => c.hits === hitsOfC + 1);
  assert.deepEqual(held(await apply([member('h1_b', b, 'ready')])), { h1_a: 'maint/1', h1_b: 'ready/0' });
  assert.deepEqual(await spread(4), { b: 4 });
  c.release();
  assert.equal(await openOnC, 'c');
  await until('h1_a to be deleted', async () => held(await apply([member('h1_b', b, 'ready')])).h1_a === undefined);
  assert.deepEqual(
    (await new HaproxyClient(haproxy.socket).servers(haproxy.backend)).map((s) => s.id),
    ['h1_b'],
  );

  // an empty pool empties the backend
  assert.deepEqual(held(await apply([])), {});
  assert.deepEqual(await new HaproxyClient(haproxy.socket).servers(haproxy.backend), []);
});

test('an unreachable socket or unknown backend is the pool ok:false; the other pools are applied', { skip }, async () => {
  const applier = new BalancerApplier();
  const reports = await applier.apply({
    index: 9,
    pools: [
      { name: 'gone', driver: 'haproxy', socket: '/nonexistent/haproxy.sock', backend: 'pool', members: [] },
      { name: 'nobackend', driver: 'haproxy', socket: haproxy.socket, backend: 'other', members: [] },
      { name: 'web', driver: 'haproxy', socket: haproxy.socket, backend: haproxy.backend, members: [member('h2_b', b, 'ready')] },
    ],
  });
  assert.deepEqual(
    reports.map((r) => [r.name, r.ok]),
    [
      ['gone', false],
      ['nobackend', false],
      ['web', true],
    ],
  );
  assert.match(reports[0]!.error!, /cannot reach haproxy's runtime API at \/nonexistent\/haproxy\.sock/);
  assert.match(reports[1]!.error!, /Can't find backend/);
  assert.deepEqual(held(reports[2]!), { h2_b: 'ready/0' });
  await applier.apply({
    index: 10,
    pools: [{ name: 'web', driver: 'haproxy', socket: haproxy.socket, backend: haproxy.backend, members: [] }],
  });
});

test('told that a newer pool waits, an apply stops before its next command and has no report', { skip }, async () => {
  const applier = new BalancerApplier();
  const [first] = await applier.apply({ index: 20, pools: [pool([member('h3_a', a, 'ready')])] });
  assert.deepEqual(held(first!), { h3_a: 'ready/0' });
  const next = pool([member('h3_a', a, 'drain'), member('h3_b', b, 'ready')]);
  const { pools } = applier.plan({ index: 21, pools: [next] });
  assert.equal(await applier.applyPool(pools[0]!, 21, AbortSignal.abort()), undefined, 'cut: no report');
  assert.deepEqual(
    (await new HaproxyClient(haproxy.socket).servers(haproxy.backend)).map((s) => [s.id, s.state]),
    [['h3_a', 'ready']],
    'no command was sent',
  );
  const report = await applier.applyPool(pools[0]!, 21);
  assert.deepEqual(held(report!), { h3_a: 'drain/0', h3_b: 'ready/0' }, 'the report is the read moved by the commands');
  assert.deepEqual(
    (await new HaproxyClient(haproxy.socket).servers(haproxy.backend)).map((s) => [s.id, s.state]),
    [
      ['h3_a', 'drain'],
      ['h3_b', 'ready'],
    ],
    'as haproxy says',
  );
  await applier.apply({ index: 22, pools: [pool([])] });
});

test('a join is one round trip: added and set ready on one connection; a draining one is added, then set', { skip }, async () => {
  class Counting extends HaproxyClient {
    sent: string[] = [];
    override command(command: string, several?: boolean): Promise<string> {
      if (!command.startsWith('show ')) this.sent.push(command);
      return super.command(command, several);
    }
  }
  const client = new Counting(haproxy.socket);
  const joined = await applyHaproxyPool(pool([member('h4_a', a, 'ready')]), client);
  assert.deepEqual(client.sent, [`add server ${haproxy.backend}/h4_a 127.0.0.1:${a.port}; set server ${haproxy.backend}/h4_a state ready`]);
  assert.deepEqual(joined, { members: [{ id: 'h4_a', state: 'ready', connections: 0 }] });
  assert.deepEqual(await spread(3), { a: 3 }, 'it takes requests');

  client.sent = [];
  await applyHaproxyPool(pool([member('h4_a', a, 'ready'), member('h4_b', b, 'drain')]), client);
  assert.deepEqual(client.sent, [
    `add server ${haproxy.backend}/h4_b 127.0.0.1:${b.port}`,
    `set server ${haproxy.backend}/h4_b state drain`,
  ]);
  assert.deepEqual(
    (await client.servers(haproxy.backend)).map((s) => [s.id, s.state]),
    [
      ['h4_a', 'ready'],
      ['h4_b', 'drain'],
    ],
  );
  assert.deepEqual(await spread(3), { a: 3 }, 'a draining member gets no new requests');
  await applyHaproxyPool(pool([]), client);
  await until('both deleted', async () => (await applyHaproxyPool(pool([]), client)).members.length === 0);
});

test('with the backend known from its last apply, a change is sent with no read first; refused, it is applied from a read', {
  skip,
}, async () => {
  class Recording extends HaproxyClient {
    sent: string[] = [];
    override command(command: string, several?: boolean): Promise<string> {
      this.sent.push(command.split(' ').slice(0, 3).join(' '));
      return super.command(command, several);
    }
  }
  const client = new Recording(haproxy.socket);
  let clock = 1_000_000;
  const driver = new HaproxyDriver(
    () => client,
    () => clock,
  );
  const apply = async (members: DesiredMember[]) => {
    client.sent = [];
    const outcome = await driver.apply(pool(members));
    assert.equal(outcome.error, undefined);
    return { held: Object.fromEntries(outcome.members.map((m) => [m.id, `${m.state}/${m.connections}`])), sent: client.sent.sort() };
  };
  const reads = ['show servers state', 'show stat pool'];

  // nothing known yet: read, then join
  assert.deepEqual((await apply([member('h5_a', a, 'ready')])).sent, ['add server pool/h5_a', ...reads]);
  // known: the join at once, the sessions read beside it (the report), no `show servers state`
  const joined = await apply([member('h5_a', a, 'ready'), member('h5_b', b, 'ready')]);
  assert.deepEqual(joined.sent, ['add server pool/h5_b', 'show stat pool']);
  assert.deepEqual(joined.held, { h5_a: 'ready/0', h5_b: 'ready/0' });
  assert.deepEqual(await spread(4), { a: 2, b: 2 }, 'both take requests');

  // nothing changed (a re-apply): read again
  assert.deepEqual((await apply([member('h5_a', a, 'ready'), member('h5_b', b, 'ready')])).sent, reads);
  // a drain beside a join, then a member in maint made ready (a new version's join, same id): no read
  assert.deepEqual((await apply([member('h5_a', a, 'drain'), member('h5_b', b, 'ready'), member('h5_c', c, 'ready')])).sent, [
    'add server pool/h5_c',
    'set server pool/h5_a',
    'show stat pool',
  ]);
  await apply([member('h5_a', a, 'maint'), member('h5_b', b, 'ready'), member('h5_c', c, 'ready')]);
  const back = await apply([member('h5_a', a, 'ready'), member('h5_b', b, 'ready'), member('h5_c', c, 'ready')]);
  assert.deepEqual(back.sent, ['set server pool/h5_a', 'show stat pool']);
  assert.deepEqual(await spread(3), { a: 1, b: 1, c: 1 });
  // no longer named: maint and deleted (no sessions left, as the read beside said)
  const left = await apply([member('h5_b', b, 'ready')]);
  assert.deepEqual(left.sent, [
    'del server pool/h5_a',
    'del server pool/h5_c',
    'set server pool/h5_a',
    'set server pool/h5_c',
    'show stat pool',
  ]);
  assert.deepEqual(left.held, { h5_b: 'ready/0' });

  // a server of the joined id that noops did not know of (put there by hand, at b's port): the
  // join is refused, and the apply reads and moves it to the port the pool names
  await new HaproxyClient(haproxy.socket).add(haproxy.backend, 'h5_d', '127.0.0.1', b.port);
  const refused = await apply([member('h5_b', b, 'ready'), member('h5_d', c, 'ready')]);
  // the refused join (with its sessions read), then the read, and the move (`set server ... addr`)
  assert.deepEqual(refused.sent, ['add server pool/h5_d', 'set server pool/h5_d', ...reads, 'show stat pool']);
  assert.deepEqual(refused.held, { h5_b: 'ready/0', h5_d: 'ready/0' });
  assert.deepEqual(
    (await client.servers(haproxy.backend)).map((s) => [s.id, s.port, s.state]),
    [
      ['h5_b', b.port, 'ready'],
      ['h5_d', c.port, 'ready'],
    ],
  );

  // known for KNOWN_FRESH_MS only: older, a join reads first
  clock += KNOWN_FRESH_MS + 1;
  assert.deepEqual((await apply([member('h5_b', b, 'ready'), member('h5_d', c, 'ready'), member('h5_e', a, 'ready')])).sent, [
    'add server pool/h5_e',
    ...reads,
  ]);
  await apply([]);
  await until('all deleted', async () => (await driver.apply(pool([]))).members.length === 0);
});
