import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ASSIGNMENT_TTL_MS,
  AVOID_FAILED_MS,
  affinity,
  GONE_COOLDOWN_MS,
  GONE_REPORTERS,
  LATE_BAD_MS,
  MAX_SEED_UPLOADS,
  MAX_UPLOADS_PER_PEER,
  PEER_TTL_MS,
  SEED_AFTER_MS,
  SWARM_TTL_MS,
  Tracker,
} from './tracker.js';
import { SEED, type SwarmRequest } from './wire.js';

const SHA = 'a'.repeat(64);
const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A tracker on a clock the test moves, with a fixed "random" source. */
function tracker(): { t: Tracker; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return {
    t: new Tracker(
      () => clock.now,
      () => 0.5,
    ),
    clock,
  };
}

/** One request of `host`; `complete` without `have`: a holder of every piece (a download that ended says so). */
function ask(t: Tracker, host: string, req: Partial<SwarmRequest> = {}, labels: Record<string, string> = {}, n = 4) {
  const have = req.complete && req.have === undefined ? Array.from({ length: n }, (_, i) => i) : [];
  return t.announce(SHA, n, { host, labels, url: `http://${host}:7701` }, { have, ...req });
}

test('a lone host gets every piece from the server, a few at a time', () => {
  const { t } = tracker();
  const a = ask(t, 'h1', {}, {}, 10);
  assert.equal(a.assignments.length, 4);
  assert.ok(a.assignments.every((x) => x.from === SEED));
  const b = ask(t, 'h1', { have: [0, 1, 2, 3], done: a.assignments.map((x) => ({ piece: x.piece, from: x.from })) }, {}, 10);
  assert.deepEqual(
    b.assignments.map((x) => x.from),
    [SEED, SEED, SEED, SEED],
  );
  assert.ok(b.assignments.every((x) => x.piece >= 4));
});

test('the server sends the first copy of each piece once; the next host waits for a peer', () => {
  const { t } = tracker();
  const first = ask(t, 'h1');
  assert.deepEqual(first.assignments.map((x) => x.piece).sort(), [0, 1, 2, 3]);
  const second = ask(t, 'h2');
  assert.deepEqual(second.assignments, [], 'every piece is on its way to h1: h2 is given nothing yet');
  assert.ok(second.retryMs > 0);
  // h1 has pieces 0 and 1: h2 fetches them from h1, not from the server
  ask(t, 'h1', {
    have: [0, 1],
    done: [
      { piece: 0, from: SEED },
      { piece: 1, from: SEED },
    ],
  });
  const third = ask(t, 'h2');
  assert.deepEqual(
    third.assignments.map((x) => [x.piece, x.from, x.url]),
    [
      [0, 'h1', 'http://h1:7701'],
      [1, 'h1', 'http://h1:7701'],
    ],
  );
});

test('peers sharing the rack come first, then the zone, then the least busy', () => {
  assert.equal(affinity({ rack: 'r1', zone: 'z1' }, { rack: 'r1', zone: 'z1' }), 3);
  assert.equal(affinity({ rack: 'r1', zone: 'z1' }, { rack: 'r1', zone: 'z2' }), 2);
  assert.equal(affinity({ rack: 'r1', zone: 'z1' }, { rack: 'r2', zone: 'z1' }), 1);
  assert.equal(affinity({}, {}), 0);
  const { t } = tracker();
  ask(t, 'far', { complete: true }, { rack: 'r9', zone: 'z9' }, 1);
  ask(t, 'zone', { complete: true }, { rack: 'r8', zone: 'z1' }, 1);
  ask(t, 'rack', { complete: true }, { rack: 'r1', zone: 'z1' }, 1);
  assert.equal(ask(t, 'me', {}, { rack: 'r1', zone: 'z1' }, 1).assignments[0]?.from, 'rack');
  assert.equal(ask(t, 'me2', {}, { rack: 'r7', zone: 'z1' }, 1).assignments[0]?.from, 'zone');
  assert.equal(ask(t, 'me3', {}, { rack: 'r7', zone: 'z7' }, 1).assignments[0]?.from, 'far');
});

test('no peer serves more than MAX_UPLOADS_PER_PEER at once; the load is spread', () => {
  const { t } = tracker();
  for (const h of ['s1', 's2']) ask(t, h, { complete: true }, {}, 1);
  const from: string[] = [];
  for (let i = 0; i < 3 * MAX_UPLOADS_PER_PEER; i++) from.push(...ask(t, `d${i}`, {}, {}, 1).assignments.map((x) => x.from));
  const count = (h: string): number => from.filter((f) => f === h).length;
  assert.equal(count('s1'), MAX_UPLOADS_PER_PEER);
  assert.equal(count('s2'), MAX_UPLOADS_PER_PEER);
  assert.equal(count(SEED), 0, 'the server is not asked while peers hold the piece');
  assert.equal(from.length, 2 * MAX_UPLOADS_PER_PEER, 'the rest wait');
  assert.equal(t.uploads(SHA, 's1'), MAX_UPLOADS_PER_PEER);
  // one piece lands: s1 has an upload free again
  ask(t, 'd0', { have: [0], done: [{ piece: 0, from: from[0]! }], complete: true }, {}, 1);
  assert.equal(t.uploads(SHA, from[0]!), MAX_UPLOADS_PER_PEER - 1);
});

test('a host given nothing for SEED_AFTER_MS gets the piece from the server, within its limit', () => {
  const { t, clock } = tracker();
  ask(t, 's1', { complete: true }, {}, 1);
  for (let i = 0; i < MAX_UPLOADS_PER_PEER; i++) ask(t, `busy${i}`, {}, {}, 1);
  assert.deepEqual(ask(t, 'late', {}, {}, 1).assignments, []);
  clock.now += SEED_AFTER_MS;
  assert.deepEqual(
    ask(t, 'late', {}, {}, 1).assignments.map((x) => x.from),
    [SEED],
  );
  assert.ok(MAX_SEED_UPLOADS >= 1);
});

test('a peer reported for a bad piece is banned for the package: never offered again, its pieces forgotten', () => {
  const { t } = tracker();
  ask(t, 'evil', { complete: true }, {}, 1);
  const a = ask(t, 'h1', {}, {}, 1);
  assert.equal(a.assignments[0]?.from, 'evil');
  const b = ask(t, 'h1', { bad: [{ piece: 0, from: 'evil' }] }, {}, 1);
  assert.ok(t.banned(SHA, 'evil'));
  assert.equal(t.uploads(SHA, 'evil'), 0);
  assert.deepEqual(
    b.assignments.map((x) => x.from),
    [SEED],
    'no other peer holds it: the server sends it',
  );
  // the banned peer announcing again changes nothing
  ask(t, 'evil', { complete: true }, {}, 1);
  assert.deepEqual(ask(t, 'h2', {}, {}, 1).assignments, [], 'h1 fetches it from the server; h2 waits, not for evil');
});

test('a bad piece reported after its assignment expired bans the peer for LATE_BAD_MS more; not a peer it was not from', () => {
  for (const [after, banned] of [
    [LATE_BAD_MS - 1, true],
    [LATE_BAD_MS, false],
  ] as const) {
    const { t, clock } = tracker();
    ask(t, 'evil', { complete: true }, {}, 1);
    ask(t, 'honest', { complete: true }, {}, 1);
    const a = ask(t, 'h1', {}, {}, 1);
    const from = a.assignments[0]!.from;
    const other = from === 'evil' ? 'honest' : 'evil';
    clock.now += ASSIGNMENT_TTL_MS + 1;
    ask(t, 'h2', { complete: true }, {}, 1); // any request of the package finds the assignment past its time
    assert.equal(t.uploads(SHA, from), 0, 'the expired assignment no longer counts as an upload');
    clock.now += after;
    // the agent's next request (it is given the piece again in its answer: a new assignment)
    ask(
      t,
      'h1',
      {
        bad: [
          { piece: 0, from: other },
          { piece: 0, from },
        ],
      },
      {},
      1,
    );
    assert.equal(t.banned(SHA, other), false, `${other} was not the source: not believed`);
    assert.equal(t.banned(SHA, from), banned, `a bad piece reported ${after} ms after the assignment expired`);
  }
});

test('a peer that did not answer is dropped; a busy one only frees its assignment', () => {
  const { t } = tracker();
  ask(t, 'p1', { complete: true }, {}, 2);
  ask(t, 'p2', { complete: true }, {}, 2);
  const a = ask(t, 'h1', {}, {}, 2);
  const gone = a.assignments[0]!;
  const b = ask(t, 'h1', { failed: [{ piece: gone.piece, from: gone.from, why: 'gone' }] }, {}, 2);
  assert.ok(b.assignments.every((x) => x.from !== gone.from));
  assert.equal(t.banned(SHA, gone.from), false, 'not answering is not cheating');
});

test('a peer that refused an agent is not given to that agent again for AVOID_FAILED_MS; others still get it', () => {
  const { t, clock } = tracker();
  ask(t, 'refuser', { complete: true }, {}, 1);
  assert.equal(ask(t, 'h1', {}, {}, 1).assignments[0]?.from, 'refuser');
  const t0 = clock.now;
  // it answered 503 (busy): its upload is free and it is the least busy holder, but not for h1
  const again = ask(t, 'h1', { failed: [{ piece: 0, from: 'refuser', why: 'busy' }] }, {}, 1);
  assert.deepEqual(again.assignments, [], 'h1 is not sent back to the peer that just refused it');
  assert.equal(ask(t, 'h2', {}, {}, 1).assignments[0]?.from, 'refuser', 'another agent is');
  // h1 waits, then the server sends it the piece: its download does not stall on that peer
  clock.now = t0 + SEED_AFTER_MS;
  assert.deepEqual(
    ask(t, 'h1', {}, {}, 1).assignments.map((x) => x.from),
    [SEED],
  );
  // the server's copy failed too: until AVOID_FAILED_MS has passed, h1 is still not sent to the refuser
  clock.now = t0 + AVOID_FAILED_MS - 1;
  assert.deepEqual(ask(t, 'h1', { failed: [{ piece: 0, from: SEED, why: 'gone' }] }, {}, 1).assignments, []);
  clock.now = t0 + AVOID_FAILED_MS;
  assert.equal(ask(t, 'h1', {}, {}, 1).assignments[0]?.from, 'refuser', 'then it may be again');
});

test('a peer reported gone by GONE_REPORTERS agents is offered to no one for GONE_COOLDOWN_MS, whatever it announces', () => {
  const { t, clock } = tracker();
  ask(t, 'silent', { complete: true }, {}, 1);
  assert.equal(ask(t, 'h1', {}, {}, 1).assignments[0]?.from, 'silent');
  assert.equal(ask(t, 'h2', {}, {}, 1).assignments[0]?.from, 'silent');
  assert.deepEqual(
    ask(t, 'h1', { failed: [{ piece: 0, from: 'silent', why: 'gone' }] }, {}, 1).assignments,
    [],
    "h1 is not sent back to it; h2's copy is on its way",
  );
  // its own next request names its address and its pieces again (a firewall closes its port, not its way to the server)
  ask(t, 'silent', { complete: true }, {}, 1);
  assert.equal(ask(t, 'h3', {}, {}, 1).assignments[0]?.from, 'silent', "one agent's word does not take it out for the others");
  assert.equal(GONE_REPORTERS, 2);
  ask(t, 'h2', { failed: [{ piece: 0, from: 'silent', why: 'gone' }] }, {}, 1);
  const t0 = clock.now;
  ask(t, 'silent', { complete: true }, {}, 1);
  assert.deepEqual(ask(t, 'h4', {}, {}, 1).assignments, [], "two agents' word does: h4 waits for the copies on their way, not for it");
  clock.now = t0 + GONE_COOLDOWN_MS - 1;
  ask(t, 'silent', { complete: true }, {}, 1);
  assert.ok(!ask(t, 'h5', {}, {}, 1).assignments.some((x) => x.from === 'silent'), 'still out just before the cooldown ends');
  clock.now = t0 + GONE_COOLDOWN_MS;
  ask(t, 'silent', { complete: true }, {}, 1);
  assert.equal(ask(t, 'h6', {}, {}, 1).assignments[0]?.from, 'silent', 'after the cooldown it is offered again');
});

test('a complete host gets nothing and frees what it had in flight', () => {
  const { t } = tracker();
  const a = ask(t, 'h1', {}, {}, all(3).length);
  assert.equal(a.assignments.length, 3);
  const b = ask(t, 'h1', { complete: true }, {}, 3);
  assert.deepEqual(b.assignments, []);
  assert.equal(t.uploads(SHA, SEED), 0);
});

test('a host that serves nobody does not make others wait for the piece it fetches', () => {
  const { t } = tracker();
  const quiet = t.announce(SHA, 1, { host: 'quiet', labels: {}, url: undefined }, { have: [] });
  assert.deepEqual(
    quiet.assignments.map((x) => x.from),
    [SEED],
  );
  assert.deepEqual(
    ask(t, 'h2', {}, {}, 1).assignments.map((x) => x.from),
    [SEED],
    'quiet will not pass it on: h2 gets it from the server too',
  );
  assert.deepEqual(ask(t, 'h3', {}, {}, 1).assignments, [], 'h2 will: h3 waits for h2');
});

test('an agent cannot have a peer it was not sent to banned or dropped', () => {
  const { t } = tracker();
  ask(t, 'honest', { complete: true }, {}, 2);
  // liar was never given a piece from honest: it reports one bad and one gone all the same
  ask(t, 'liar', { have: [0, 1], bad: [{ piece: 0, from: 'honest' }], failed: [{ piece: 1, from: 'honest', why: 'gone' }] }, {}, 2);
  assert.equal(t.banned(SHA, 'honest'), false, 'a bad piece it was never sent for is not believed');
  const froms = ask(t, 'h1', {}, {}, 2).assignments.map((x) => x.from);
  assert.ok(froms.includes('honest'), `honest still serves, neither dropped nor banned (got ${froms.join(', ')})`);
  // sent to honest for a piece, an agent is believed (the cost of a lying one: docs/packages-p2p.md)
  const a = ask(t, 'liar', {}, {}, 2);
  const fromHonest = a.assignments.find((x) => x.from === 'honest')!;
  ask(t, 'liar', { bad: [{ piece: fromHonest.piece, from: 'honest' }] }, {}, 2);
  assert.ok(t.banned(SHA, 'honest'));
});

test('an agent given nothing can wait for the swarm to change: a piece landing ends the wait', async () => {
  const t = new Tracker();
  const first = t.announce(SHA, 1, { host: 'h1', labels: {}, url: 'http://h1:7701' }, { have: [] });
  assert.equal(first.assignments[0]?.from, SEED);
  const idle = t.announce(SHA, 1, { host: 'h2', labels: {}, url: 'http://h2:7701' }, { have: [] });
  assert.deepEqual(idle.assignments, []);
  assert.ok(idle.retryMs > 0, 'nothing to do and nothing in flight: wait');
  let woken = false;
  const wait = t.changed(SHA, 60_000).then(() => {
    woken = true;
  });
  t.announce(SHA, 1, { host: 'h3', labels: {}, url: 'http://h3:7701' }, { have: [] });
  await new Promise((r) => setImmediate(r));
  assert.equal(woken, false, 'another agent asking changes nothing');
  t.announce(SHA, 1, { host: 'h1', labels: {}, url: 'http://h1:7701' }, { have: [0], done: [{ piece: 0, from: SEED }] });
  await wait;
  assert.equal(t.announce(SHA, 1, { host: 'h2', labels: {}, url: 'http://h2:7701' }, { have: [] }).assignments[0]?.from, 'h1');
  await t.changed(SHA, 1); // a wait with nothing happening ends by its time
});

test('a download given up is counted a holder of what it says it holds, not of every piece', () => {
  const { t } = tracker();
  const first = ask(t, 'quit', {}, {}, 2);
  assert.deepEqual(
    first.assignments.map((x) => x.from),
    [SEED, SEED],
  );
  // an older agent gives up holding piece 0 (and says `complete`, as a download that ended does)
  ask(t, 'quit', { have: [0], done: [{ piece: 0, from: SEED }], failed: [{ piece: 1, from: SEED, why: 'gone' }], complete: true }, {}, 2);
  assert.equal(t.uploads(SHA, SEED), 0, 'what was assigned to it is freed');
  const next = ask(t, 'next', {}, {}, 2);
  assert.deepEqual(
    next.assignments.map((x) => [x.piece, x.from]).sort((a, b) => Number(a[0]) - Number(b[0])),
    [
      [0, 'quit'],
      [1, SEED],
    ],
    'sent to it for the piece it holds, and to the server for the other',
  );
});

test('a download given up holding nothing is never named: the next asker goes to the server', () => {
  const { t } = tracker();
  assert.deepEqual(
    ask(t, 'quit', {}, {}, 1).assignments.map((x) => x.from),
    [SEED],
  );
  ask(t, 'quit', { have: [], failed: [{ piece: 0, from: SEED, why: 'gone' }], complete: true }, {}, 1);
  assert.deepEqual(
    ask(t, 'next', {}, {}, 1).assignments.map((x) => x.from),
    [SEED],
    'a peer that held the piece would be asked before the server',
  );
});

test('a peer not heard of for PEER_TTL_MS is not offered; heard again, it is', () => {
  const { t, clock } = tracker();
  ask(t, 'quiet', { complete: true }, {}, 1);
  clock.now += PEER_TTL_MS;
  assert.deepEqual(
    ask(t, 'h1', {}, {}, 1).assignments.map((x) => x.from),
    ['quiet'],
    'heard of PEER_TTL_MS ago: still offered',
  );
  const { t: t2, clock: c2 } = tracker();
  ask(t2, 'quiet', { complete: true }, {}, 1);
  c2.now += PEER_TTL_MS + 1;
  assert.deepEqual(
    ask(t2, 'h1', {}, {}, 1).assignments.map((x) => x.from),
    [SEED],
    'not heard of for longer: the server sends the piece',
  );
  ask(t2, 'quiet', { complete: true }, {}, 1);
  assert.deepEqual(
    ask(t2, 'h2', {}, {}, 1).assignments.map((x) => x.from),
    ['quiet'],
    'heard again: offered again',
  );
});

test('a package no agent asked about for SWARM_TTL_MS is forgotten (its bans with it) when a new one is asked about', () => {
  const { t, clock } = tracker();
  const other = 'b'.repeat(64);
  const banEvil = (): void => {
    ask(t, 'evil', { complete: true }, {}, 1);
    ask(t, 'h1', {}, {}, 1);
    ask(t, 'h1', { bad: [{ piece: 0, from: 'evil' }] }, {}, 1);
    assert.ok(t.banned(SHA, 'evil'));
  };
  banEvil();
  clock.now += SWARM_TTL_MS;
  t.announce(other, 1, { host: 'h1', labels: {}, url: undefined }, { have: [] });
  assert.ok(t.banned(SHA, 'evil'), 'asked about SWARM_TTL_MS ago: kept');
  clock.now += 1;
  t.announce(other, 1, { host: 'h1', labels: {}, url: undefined }, { have: [] });
  assert.ok(t.banned(SHA, 'evil'), 'longer, but the package asked about is not new: nothing is looked at');
  t.announce('c'.repeat(64), 1, { host: 'h1', labels: {}, url: undefined }, { have: [] });
  assert.equal(t.banned(SHA, 'evil'), false, 'a new package: the old one is forgotten');
});
