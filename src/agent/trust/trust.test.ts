import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accept, checkServer, checkStops, refuse, stopsAllowed, trustReport, type ServerMemory } from './trust.js';

const known: ServerMemory = { id: 'srv-a', generation: 7 };

test('the first server is followed; the same one at the same or a later generation is accepted', () => {
  assert.deepEqual(checkServer(undefined, { id: 'srv-a', generation: 0 }), { accept: true, adopted: false });
  assert.deepEqual(checkServer(known, { id: 'srv-a', generation: 7 }), { accept: true, adopted: false });
  assert.deepEqual(checkServer(known, { id: 'srv-a', generation: 12 }), { accept: true, adopted: false });
  assert.deepEqual(checkServer(known, { id: 'srv-a' }), { accept: true, adopted: false }, 'a join answer has no generation');
});

test('another identity (an emptied or replaced database) is refused, with the reason', () => {
  assert.deepEqual(checkServer(known, { id: 'srv-b', generation: 1 }), {
    accept: false,
    kind: 'identity',
    reason:
      "the server's database is another one (identity srv-b; this agent follows srv-a): it was replaced or emptied, and its answer is not applied",
  });
  assert.deepEqual(checkServer(known, { id: undefined, generation: 9 }), {
    accept: false,
    kind: 'identity',
    reason: 'the server sent no identity (this agent follows server srv-a): it is older than this agent, or not the server it knows',
  });
});

test('a lower generation (a restored backup) is refused, and stays refused when the generation climbs again', () => {
  const d = checkServer(known, { id: 'srv-a', generation: 5 });
  assert.deepEqual(d, {
    accept: false,
    kind: 'generation',
    reason:
      "the server's desired state is at generation 5, older than generation 7 this agent applied: its database went back in time (a restored backup?), and its answer is not applied",
  });
  const refused = refuse(known, 'generation', d.accept ? '' : d.reason, () => 'r1', new Date('2024-05-01T12:00:00Z'));
  assert.deepEqual(refused.refusal, { id: 'r1', kind: 'generation', reason: d.accept ? '' : d.reason, since: '2024-05-01T12:00:00.000Z' });
  const later = checkServer(refused, { id: 'srv-a', generation: 9 });
  assert.equal(later.accept, false, 'the old database deployed twice more: still not current');
  // an identity refusal is not sticky: the database it follows, back, is accepted
  const away = refuse(known, 'identity', 'x', () => 'r2', new Date());
  assert.deepEqual(checkServer(away, { id: 'srv-a', generation: 7 }), { accept: true, adopted: false });
});

test('an adopted answer naming the current refusal is accepted, from any server; an older refusal id is not', () => {
  const refused = refuse(known, 'identity', 'x', () => 'r1', new Date());
  assert.deepEqual(checkServer(refused, { id: 'srv-b', generation: 8, adopted: 'r1' }), { accept: true, adopted: true });
  assert.equal(checkServer(refused, { id: 'srv-b', generation: 8, adopted: 'r0' }).accept, false);
  assert.equal(checkServer(known, { id: 'srv-b', generation: 8, adopted: 'r1' }).accept, false, 'no refusal: nothing to adopt');
  assert.deepEqual(accept(refused, 'srv-b', 8), { id: 'srv-b', generation: 8 });
});

test('a refusal keeps its id while its kind stays; another kind is a new refusal', () => {
  let n = 0;
  const ids = () => `r${++n}`;
  const at = new Date('2024-05-01T12:00:00Z');
  const a = refuse(known, 'identity', 'first', ids, at);
  const b = refuse(a, 'identity', 'second', ids, new Date());
  assert.deepEqual(b.refusal, { id: 'r1', kind: 'identity', reason: 'second', since: '2024-05-01T12:00:00.000Z' });
  assert.equal(refuse(b, 'stops', 'x', ids, at).refusal!.id, 'r2');
});

test('the share of instances one answer may stop: half, and always one', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10].map(stopsAllowed), [1, 1, 1, 1, 2, 2, 5]);
  assert.equal(checkStops(['a'], []), undefined, 'a host with one instance may lose it');
  assert.equal(checkStops(['a', 'b', 'c', 'd'], ['a', 'b']), undefined);
  assert.equal(
    checkStops(['a', 'b'], []),
    'the answer would stop 2 of the 2 instances this host runs (a, b) without an undeploy naming them; at most 1 may stop in one answer',
  );
  assert.equal(
    checkStops(['a', 'b', 'c', 'd'], ['a']),
    'the answer would stop 3 of the 4 instances this host runs (b, c, d) without an undeploy naming them; at most 2 may stop in one answer',
  );
  assert.equal(checkStops(['a', 'b', 'c', 'd'], [], ['a', 'b', 'c', 'd']), undefined, 'an undeploy names what it stops');
  assert.equal(checkStops(['a', 'b', 'c', 'd'], [], ['a', 'b']), undefined, 'two named, two more allowed');
});

test('what the agent reports about its trust', () => {
  assert.deepEqual(trustReport(undefined), { state: 'accepted', server: null, generation: 0 });
  assert.deepEqual(trustReport(known), { state: 'accepted', server: 'srv-a', generation: 7 });
  const r = refuse(known, 'identity', 'why', () => 'r1', new Date('2024-05-01T12:00:00Z'));
  assert.deepEqual(trustReport(r), {
    state: 'refused',
    server: 'srv-a',
    generation: 7,
    reason: 'why',
    refusal: 'r1',
    since: '2024-05-01T12:00:00.000Z',
  });
});

test('the signing key: the first is pinned; another, or none, is refused like another identity; an adoption accepts it', () => {
  assert.deepEqual(checkServer(undefined, { id: 'srv-a', key: 'k1' }), { accept: true, adopted: false }, 'nothing pinned yet');
  assert.deepEqual(checkServer(known, { id: 'srv-a', generation: 7, key: 'k1' }, 'k1'), { accept: true, adopted: false });
  assert.deepEqual(checkServer(known, { id: 'srv-a', generation: 8, key: 'k2' }, 'k1'), {
    accept: false,
    kind: 'key',
    reason:
      'the server signs releases with key k2, but this agent trusts key k1, pinned when it joined: it is another server, or its signing.key was replaced, and its answer is not applied',
  });
  assert.equal(checkServer(undefined, { id: 'srv-a', key: 'k2' }, 'k1').accept, false, 'a rebuilt state keeps the pin');
  assert.match((checkServer(known, { id: 'srv-a', generation: 8 }, 'k1') as { reason: string }).reason, /names no release signing key/);
  const refused = refuse(known, 'key', 'k2', () => 'r9', new Date(0));
  assert.deepEqual(checkServer(refused, { id: 'srv-a', generation: 9, key: 'k2', adopted: 'r9' }, 'k1'), { accept: true, adopted: true });
});
