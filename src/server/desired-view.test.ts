/**
 * The resolved desired state: an answer is the bytes the route used to serialize, made once per
 * change; what changes (on this server, or written to the store by another) reaches the next answer.
 */
import { stat } from 'node:fs/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredState, RuntimeRef } from '../api/index.js';
import type { ReleaseManifest } from '../release/index.js';
import { openStore } from '../store/open.js';
import type { DesiredRow, Store } from '../store/index.js';
import {
  answerJson,
  DESIRED_FRESH_MS,
  DesiredView,
  type DesiredViewDeps,
  GENERATION_KEEP_MS,
  READ_SLICE,
  type ResolvedDesired,
} from './desired-view.js';
import { STAGE_TTL_MS, stageAhead } from './stage-ahead.js';
import { type ChangeBus, Subscribers } from '../bus/index.js';
import { DesiredHub, WAKE_SLICE } from './hub.js';
import { serverIdentity } from './trust.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const SIGNING = { keyId: 'k1', publicKey: 'cHVibGlj' };
const RUNTIME: RuntimeRef = {
  name: 'node',
  version: '20',
  sha256: 'b'.repeat(64),
  url: `/api/v1/artifacts/${'b'.repeat(64)}`,
  exports: { path: ['bin'], env: {} },
  platform: 'any',
};

const manifest = (version: string): Record<string, unknown> => ({
  schema: 1,
  job: JOB,
  version,
  commit: version.padEnd(40, '0'),
  repo: 'r',
  builtAt: '2026-01-01T00:00:00.000Z',
  stack: 'procfile',
  env: {},
  secretEnv: { DB: 'db' },
  runtimes: { node: '20' },
  processes: [{ name: 'web', command: 'x', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 1 }],
});
const row = (host: string, version: string, deploymentId: number | null = 7): DesiredRow => ({
  host,
  tag: CLUSTER,
  version,
  sha256: version.charAt(0).repeat(64),
  manifest: manifest(version),
  deploymentId,
  updatedAt: '2026-01-01T00:00:00.000Z',
  kind: null,
});

/** The store, and the hosts whose generation it was asked for, in order. */
function counting(store: Store): { store: Store; reads: string[] } {
  const reads: string[] = [];
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'desiredGeneration')
        return (host: string) => {
          reads.push(host);
          return target.desiredGeneration(host);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: counted, reads };
}

/** A view of `store` whose other books are empty (no runtimes, secrets, signatures or grants) unless `more` says, on the test's clock. */
function plainView(store: Store, clock: { ms: number }, more: Partial<DesiredViewDeps> = {}): DesiredView {
  return new DesiredView({
    store,
    signing: SIGNING,
    kindOf: async () => 'deploy',
    runtimeRefs: async () => [],
    secretsFor: async () => ({}),
    signatureOf: async () => undefined,
    rootScopes: async () => [],
    now: () => clock.ms,
    ...more,
  });
}

/** A view over a real (in-memory) store, with the server's other books faked and counted. */
async function harness(): Promise<{
  store: Store;
  view: DesiredView;
  calls: Record<string, number>;
  grants: string[];
  secret: { value: string };
  clock: { ms: number };
}> {
  const store = await openStore('sqlite::memory:');
  const calls: Record<string, number> = { kindOf: 0, runtimeRefs: 0, secretsFor: 0, signatureOf: 0, rootScopes: 0 };
  const grants: string[] = [];
  const secret = { value: 'one' };
  const clock = { ms: 1_000_000 };
  const counted =
    <A extends unknown[], R>(name: string, f: (...args: A) => R) =>
    (...args: A): R => {
      calls[name]!++;
      return f(...args);
    };
  const view = new DesiredView({
    store,
    signing: SIGNING,
    kindOf: counted('kindOf', async () => 'rollback' as const),
    runtimeRefs: counted('runtimeRefs', async (m: ReleaseManifest) => (m.runtimes?.node === '20' ? [RUNTIME] : [])),
    secretsFor: counted('secretsFor', async () => ({ secrets: { db: secret.value } })),
    signatureOf: counted('signatureOf', async (job: string, version: string) => ({ keyId: 'k1', value: `${job}@${version}` })),
    rootScopes: counted('rootScopes', async () => [...grants]),
    now: () => clock.ms,
    epochMs: () => clock.ms,
  });
  return { store, view, calls, grants, secret, clock };
}

test('an answer is, byte for byte, the DesiredState JSON.stringify wrote, with the stops and commands of its poll', async () => {
  const { store, view } = await harness();
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  const resolved = await view.answer('h1');
  const expected: DesiredState = {
    generation: 1,
    instances: [
      {
        tag: CLUSTER,
        version: 'abc1234',
        sha256: 'a'.repeat(64),
        url: `/api/v1/artifacts/${'a'.repeat(64)}`,
        manifest: manifest('abc1234') as unknown as ReleaseManifest,
        deploymentId: 7,
        kind: 'rollback',
        runtimes: [RUNTIME],
        allowRoot: false,
        secrets: { db: 'one' },
        signature: { keyId: 'k1', value: `${JOB}@abc1234` },
      },
    ],
    server: { id: await serverIdentity(store) },
    signing: SIGNING,
  };
  assert.equal(answerJson(resolved, [], undefined), JSON.stringify(expected));
  assert.equal(answerJson(resolved, [CLUSTER], []), JSON.stringify({ ...expected, stops: [CLUSTER], commands: [] }));
  const commands = [{ id: 3, action: 'restart', tag: CLUSTER }];
  assert.equal(answerJson(resolved, [], commands), JSON.stringify({ ...expected, commands }));
  assert.deepEqual(JSON.parse(answerJson(resolved, [], undefined)), expected);
  assert.deepEqual([...resolved.fetchable].sort(), ['a'.repeat(64), 'b'.repeat(64)]);
  // an empty host: generation 0, no instances
  assert.equal(
    answerJson(await view.answer('nobody'), [], undefined),
    JSON.stringify({ generation: 0, instances: [], server: expected.server, signing: SIGNING }),
  );
  await store.close();
});

test('many polls for one host do one resolution, and the hosts of one cluster share one resolved entry', async () => {
  const { store, view, calls } = await harness();
  for (const h of ['h1', 'h2', 'h3']) await store.setDesired(h, CLUSTER, row(h, 'abc1234'));
  const answers = await Promise.all(Array.from({ length: 20 }, () => view.answer('h1')));
  for (let i = 0; i < 5; i++) answers.push(await view.answer('h1', 1));
  assert.equal(view.resolutions, 1);
  assert.ok(
    answers.every((a) => a === answers[0]),
    'one resolved answer for every poll',
  );
  await Promise.all([view.answer('h2'), view.answer('h3')]);
  assert.equal(view.resolutions, 3, 'one per host');
  assert.deepEqual(
    calls,
    { kindOf: 1, runtimeRefs: 1, secretsFor: 1, signatureOf: 1, rootScopes: 1 },
    'the entry resolved once for the three hosts',
  );
  await store.close();
});

/**
 * Every host's answer from `view`, counting the hosts of each `getDesiredMany` of `store`, and
 * how many reads there had been when the first host's answer came.
 */
async function answerCountingReads(
  store: Store,
  view: DesiredView,
  hosts: readonly string[],
): Promise<{ reads: number[]; firstOut: number; answers: ResolvedDesired[] }> {
  const reads: number[] = [];
  const getDesiredMany = store.getDesiredMany.bind(store);
  store.getDesiredMany = (names) => {
    reads.push(names.length);
    return getDesiredMany(names);
  };
  let firstOut = -1;
  const answers = await Promise.all(
    hosts.map((h, i) =>
      view.answer(h).then((a) => {
        if (i === 0) firstOut = reads.length;
        return a;
      }),
    ),
  );
  return { reads, firstOut, answers };
}

test("an entry that waits on I/O (a new release's package size) holds its hosts' answers until it resolves, not until every slice is read", async () => {
  const store = await openStore('sqlite::memory:');
  const hosts = Array.from({ length: 3 * READ_SLICE }, (_, i) => `h${i}`);
  await store.setDesiredMany(
    CLUSTER,
    hosts.map((h) => ({ host: h, row: row(h, 'abc1234') })),
  );
  // as the server's: the package's size, from the file system (a turn of the event loop at least)
  const view = plainView(store, { ms: 0 }, { whole: async () => (await stat(import.meta.filename)).size < 1 });
  const { reads, firstOut, answers } = await answerCountingReads(store, view, hosts);
  assert.deepEqual(reads, [READ_SLICE, READ_SLICE, READ_SLICE]);
  assert.equal(firstOut, 1, 'the first slice was answered once its entry resolved, before the next slice was read');
  assert.ok(answers.every((a) => a.instances[0]?.version === 'abc1234'));
  await store.close();
});

/**
 * Parks a poll for each of 2 * WAKE_SLICE + 10 hosts on a hub wired to a view as the server
 * wires them, wakes them all, and answers how many polls had woken when each host's answer was
 * out (each poll answers as the route does, after its wait's promise resolves). `roundTripMs`:
 * the store's reads answer that much later (PostgreSQL's round trips).
 */
async function wakeAndAnswer(roundTripMs: number): Promise<{ wokenAtAnswer: number[]; hosts: string[] }> {
  const store = await openStore('sqlite::memory:');
  const hosts = Array.from({ length: 2 * WAKE_SLICE + 10 }, (_, i) => `h${i}`);
  await store.setDesiredMany(
    CLUSTER,
    hosts.map((h) => ({ host: h, row: row(h, 'abc1234') })),
  );
  if (roundTripMs > 0) {
    const getDesiredMany = store.getDesiredMany.bind(store);
    store.getDesiredMany = async (names) => {
      await new Promise((r) => setTimeout(r, roundTripMs)); // many turns of the event loop
      return getDesiredMany(names);
    };
  }
  // resolved once (no I/O in the entry: one that waits on I/O holds its slice's answers until it resolves, above)
  const view = plainView(store, { ms: 0 });
  const hub = new DesiredHub();
  hub.listen((h) => view.forget(h));
  // paced as the server paces it, with a cap far above what a read takes: every pace the hub asks must resolve
  const paces = { asked: 0, resolved: 0 };
  hub.pace(() => {
    paces.asked++;
    return view.idle().then(() => void paces.resolved++);
  }, 10_000);
  let woken = 0;
  const wokenAtAnswer: number[] = [];
  const answered = hosts.map(async (h, i) => {
    await new Promise<void>((resolve) =>
      hub.park(h, () => {
        woken++;
        resolve();
      }),
    );
    const a = await view.answer(h);
    assert.equal(a.instances[0]?.version, 'abc1234');
    wokenAtAnswer[i] = woken;
  });
  for (const h of hosts) hub.notify(h);
  await Promise.all(answered);
  assert.equal(paces.asked, 2, 'one pace before each slice after the first');
  assert.equal(paces.resolved, paces.asked, "the view's idle resolved each time");
  await store.close();
  return { wokenAtAnswer, hosts };
}

test("a wake of more parked polls than a slice: each slice's answers are out before the next slice wakes", async () => {
  const { wokenAtAnswer, hosts } = await wakeAndAnswer(0);
  assert.equal(wokenAtAnswer[0], WAKE_SLICE, 'the first slice answered before the second woke');
  assert.equal(wokenAtAnswer[WAKE_SLICE], 2 * WAKE_SLICE, 'and the second before the third');
  assert.equal(wokenAtAnswer.at(-1), hosts.length);
});

test("a wake of more parked polls than a slice on a store that answers later (PostgreSQL's round trips): the hub's pace holds each slice until the last one is read", async () => {
  const { wokenAtAnswer } = await wakeAndAnswer(20);
  assert.equal(wokenAtAnswer[0], WAKE_SLICE, 'the first slice read and answered before the second woke');
  assert.equal(wokenAtAnswer[WAKE_SLICE], 2 * WAKE_SLICE);
});

test('an entry that never resolves holds its own hosts, not the slices after it nor the next batches', async () => {
  const store = await openStore('sqlite::memory:');
  // the first slice's hosts run a release whose entry hangs (its package's size never comes); the rest another
  const hosts = Array.from({ length: 2 * READ_SLICE + 10 }, (_, i) => `h${i}`);
  await store.setDesiredMany(
    CLUSTER,
    hosts.map((h, i) => ({ host: h, row: row(h, i < READ_SLICE ? 'stuck99' : 'abc1234') })),
  );
  const never = new Promise<boolean>(() => undefined);
  const whole = async (sha256: string): Promise<boolean> => (sha256.startsWith('s') ? never : false);
  const view = plainView(store, { ms: 0 }, { whole });
  const answers = hosts.map((h) => view.answer(h));
  const rest = await Promise.all(answers.slice(READ_SLICE));
  assert.ok(
    rest.every((a) => a.instances[0]?.version === 'abc1234'),
    'the slices after the hung one answered (after ENTRY_WAIT_MS)',
  );
  const first = await Promise.race([answers[0]!.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 50))]);
  assert.equal(first, 'waiting', "the hung entry's hosts wait for it");
  // a view that would wait an hour between slices: a batch after the hung one's is not held by it
  const patient = plainView(store, { ms: 0 }, { whole, entryWaitMs: 3_600_000 });
  void patient.answer(hosts[0]!); // its slice alone: the entry hangs
  await new Promise((r) => setTimeout(r, 20));
  const later = Promise.all(hosts.slice(READ_SLICE).map((h) => patient.answer(h))); // two slices
  const outcome = await Promise.race([later.then(() => 'answered'), new Promise((r) => setTimeout(() => r('held'), 20_000))]);
  assert.equal(outcome, 'answered');
  await store.close();
});

test('the answers resolved in one turn read their hosts together: in slices, not one query per host', async () => {
  const { store, view } = await harness();
  const hosts = Array.from({ length: 600 }, (_, i) => `h${i}`); // more than one slice
  for (const h of hosts) await store.setDesired(h, CLUSTER, row(h, 'abc1234'));
  await store.setMeta('adopted:h7', JSON.stringify({ refusal: 'r-7' }));
  store.getDesired = () => Promise.reject(new Error('read alone'));
  // the first slice's answers are out before the second slice is read
  const { reads, firstOut, answers } = await answerCountingReads(store, view, hosts);
  assert.deepEqual(reads, [READ_SLICE, 600 - READ_SLICE]);
  assert.equal(firstOut, 1, 'the first answer came before the second slice was read');
  assert.ok(answers.every((a) => a.generation === 1 && a.instances[0]?.version === 'abc1234'));
  assert.equal(answers[7]!.server.adopted, 'r-7', "each host's adoption is its own");
  assert.equal(answers[8]!.server.adopted, undefined);
  // the serialized rest (server, signing) is shared by the plain hosts, and the adopted one has its own
  const sent = answers.map((a) => JSON.parse(answerJson(a, [], undefined)) as { server: unknown; instances: unknown[] });
  assert.deepEqual(sent[7]!.server, answers[7]!.server);
  assert.deepEqual(sent[8]!.server, answers[8]!.server);
  assert.deepEqual(sent[9], sent[8], 'two plain hosts with the same entry: the same bytes');
  assert.equal(answers[8]!.tail, answers[9]!.tail, 'one serialized rest for the plain hosts');
  assert.equal(answers[8]!.entries[0], answers[9]!.entries[0], "one serialized entry for both, not a copy in each host's answer");
  assert.equal((await view.answer('nobody')).generation, 0, 'a host the store does not know: generation 0');
  await store.close();
});

test('a write on another server whose wake was lost reaches the answers once its generation is read from the store', async () => {
  const { store, view, clock } = await harness();
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  assert.equal((await view.answer('h1')).instances[0]!.version, 'abc1234');
  await store.setDesired('h1', CLUSTER, row('h1', 'def5678', 8)); // as another server's rollout would, its wake lost
  // a generation read by the route before it asked (a poll that waited out reads the store's) is honoured
  const next = await view.answer('h1', await store.desiredGeneration('h1'));
  assert.deepEqual([next.generation, next.instances[0]!.version], [2, 'def5678']);
  // an answer DESIRED_FRESH_MS old is resolved again
  await store.setDesired('h1', CLUSTER, null);
  clock.ms += DESIRED_FRESH_MS;
  assert.deepEqual((await view.answer('h1')).instances, []);
  assert.equal(view.resolutions, 3);
  // the generation read with the last answer (3) is kept: a write whose wake never came (the bus
  // lost it) is seen once it is GENERATION_KEEP_MS old
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234', 9));
  assert.equal(await view.generation('h1'), 3, 'kept');
  clock.ms += GENERATION_KEEP_MS;
  assert.equal(await view.generation('h1'), 4);
  clock.ms += DESIRED_FRESH_MS;
  assert.equal((await view.answer('h1')).instances[0]!.version, 'abc1234');
  await store.close();
});

test("a host's generation is read from the store once, and again after its wake, a new pool or the bus's return", async () => {
  const { store, clock } = await harness();
  // a bus of this server alone whose connection can be said to have come back (resync)
  const subscribers = new Subscribers();
  const bus: ChangeBus & { resync(): void } = {
    publish: async (channel, payload) => subscribers.deliver(channel, payload),
    subscribe: (channel, subscriber) => subscribers.add(channel, subscriber),
    close: async () => subscribers.clear(),
    resync: () => subscribers.resyncAll(),
  };
  const { store: counted, reads } = counting(store);
  const withBus = plainView(counted, clock, { bus });
  const hub = new DesiredHub(bus);
  hub.listen((h) => withBus.forget(h)); // as the server wires them
  assert.equal(await withBus.generation('h1'), 0, 'an unknown host');
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  assert.equal(await withBus.generation('h1'), 0, 'kept: no wake came');
  hub.notify('h1'); // what every writer does after its commit, on this server or another
  assert.equal(await withBus.generation('h1'), 1);
  assert.equal(await withBus.generation('h1'), 1);
  assert.deepEqual(reads, ['h1', 'h1'], 'read twice: at first and after the wake');
  await store.setDesired('h1', CLUSTER, row('h1', 'def5678', 8));
  withBus.forgetAll(); // a new address pool raised every generation
  assert.equal(await withBus.generation('h1'), 2);
  await store.setDesired('h1', CLUSTER, null);
  bus.resync(); // the bus was away: wakes may have been lost
  assert.equal(await withBus.generation('h1'), 3);
  assert.equal(await withBus.generation('h1'), 3);
  assert.equal(reads.length, 4);
  // a wake while a read is in flight: the read answers what it read, and is not kept
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234', 9));
  clock.ms += GENERATION_KEEP_MS; // what was kept is too old
  const slow = withBus.generation('h1');
  hub.notify('h1'); // a write committed while it was read
  assert.equal(await slow, 4);
  assert.equal(await withBus.generation('h1'), 4);
  assert.equal(reads.length, 6, 'the read a wake overtook was not kept: read again');
  assert.equal(await withBus.generation('h1'), 4);
  assert.equal(reads.length, 6, 'then kept');
  await store.close();
});

test("the generation an answer was resolved at is kept, unless the host's wake came while it was read", async () => {
  const { store, clock } = await harness();
  const { store: counted, reads } = counting(store);
  // the answers' read held until the test lets it end
  let gate: Promise<void> | undefined;
  const held = new Proxy(counted, {
    get(target, prop, receiver) {
      if (prop === 'getDesiredMany')
        return async (hosts: readonly string[]) => {
          const read = await target.getDesiredMany(hosts);
          await gate;
          return read;
        };
      return Reflect.get(target, prop, receiver);
    },
  });
  const view = plainView(held, clock);
  const hub = new DesiredHub();
  hub.listen((h) => view.forget(h));
  for (const h of ['h1', 'h2', 'h3']) await store.setDesired(h, CLUSTER, row(h, 'abc1234'));
  await store.setDesired('h2', CLUSTER, row('h2', 'def5678', 8));
  // three parked polls woken together: their answers are read in one batch, with their generations
  const answers = await Promise.all(['h1', 'h2', 'h3'].map((h) => view.answer(h)));
  assert.deepEqual(
    answers.map((a) => a.generation),
    [1, 2, 1],
  );
  assert.deepEqual(await Promise.all(['h1', 'h2', 'h3'].map((h) => view.generation(h))), [1, 2, 1]);
  assert.deepEqual(reads, [], 'the next poll and reports read no generation of their own');
  // a write committed (and its wake) while the answer was read: what was read is answered, not kept
  let open!: () => void;
  gate = new Promise((r) => {
    open = r;
  });
  await store.setDesired('h1', CLUSTER, row('h1', 'def5678', 9));
  hub.notify('h1');
  const racing = view.answer('h1');
  await new Promise((r) => setImmediate(r)); // the batch's read began
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234', 10));
  hub.notify('h1');
  open();
  gate = undefined;
  assert.equal((await racing).generation, 2, 'what the read saw');
  assert.equal(await view.generation('h1'), 3);
  assert.deepEqual(reads, ['h1'], "read from the store: the answer's was not kept");
  // a host forgotten before its answer's read began keeps what that read saw
  clock.ms += GENERATION_KEEP_MS;
  hub.notify('h3');
  assert.equal((await view.answer('h3')).generation, 1);
  assert.equal(await view.generation('h3'), 1);
  assert.deepEqual(reads, ['h1'], 'kept from the answer');
  await store.close();
});

test('a grant or a secret changed on this server reaches the next answer; changed on another, within DESIRED_FRESH_MS', async () => {
  const { store, view, grants, secret, clock } = await harness();
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  assert.equal((await view.answer('h1')).instances[0]!.allowRoot, false);
  grants.push('cop.acme');
  view.changed(); // what the grant route calls
  assert.equal((await view.answer('h1')).instances[0]!.allowRoot, true);
  secret.value = 'two';
  view.changed(); // what the secret routes call
  assert.deepEqual((await view.answer('h1')).instances[0]!.secrets, { db: 'two' });
  // another server's change: no call here, no new generation; seen once what is kept is too old
  secret.value = 'three';
  assert.deepEqual((await view.answer('h1')).instances[0]!.secrets, { db: 'two' }, 'kept for DESIRED_FRESH_MS');
  clock.ms += DESIRED_FRESH_MS;
  assert.deepEqual((await view.answer('h1')).instances[0]!.secrets, { db: 'three' });
  await store.close();
});

test("a wake of the hub forgets the host's answer before its polls wake; a failed resolution is not kept", async () => {
  const { store, view, clock } = await harness();
  const hub = new DesiredHub();
  hub.listen((h) => view.forget(h));
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  await view.answer('h1');
  await store.setDesired('h1', CLUSTER, row('h1', 'def5678', 8));
  const poll = hub.wait('h1', 60_000).then(() => view.answer('h1'));
  hub.notify('h1');
  assert.equal((await poll).instances[0]!.version, 'def5678');
  assert.equal(view.resolutions, 2, 'the woken poll resolved the host again');

  const broken = plainView(store, clock, { rootScopes: () => Promise.reject(new Error('grants unreadable')) });
  await assert.rejects(broken.answer('h1'), /grants unreadable/);
  await assert.rejects(broken.answer('h1'), /grants unreadable/);
  assert.equal(broken.resolutions, 2, 'asked again, not kept');
  await store.close();
});

test("an entry's replicas reach its host's answer (absent for one); hosts with other counts do not share a resolved entry", async () => {
  const { store, view, calls } = await harness();
  await store.setDesired('h1', CLUSTER, { ...row('h1', 'abc1234'), replicas: 3 });
  await store.setDesired('h2', CLUSTER, row('h2', 'abc1234'));
  const [one] = (await view.answer('h1')).instances;
  const [two] = (await view.answer('h2')).instances;
  assert.equal(one?.replicas, 3);
  assert.equal(two !== undefined && 'replicas' in two, false, 'one replica: the entry is as before');
  assert.equal(calls.signatureOf, 2, 'resolved once per count');
  // the count changes in place: the next answer has it
  await store.setDesired('h1', CLUSTER, { ...row('h1', 'abc1234'), replicas: 2 });
  view.forget('h1');
  assert.equal((await view.answer('h1')).instances[0]?.replicas, 2);
  await store.close();
});

test("a package staged for a host is in its answer and its fetchable set until its instances name it, it is unstaged or STAGE_TTL_MS pass; stageAhead wakes the host's poll", async () => {
  const { store, view, clock } = await harness();
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  await store.setDesired('h2', CLUSTER, row('h2', 'abc1234'));
  const before = await view.answer('h1');
  const pkg = { tag: CLUSTER, version: 'def5678', sha256: 'd'.repeat(64) };
  const woken: string[] = [];
  const deps = {
    store,
    notify: (h: string) => woken.push(h),
    artifacts: { size: async () => 1_000_000 },
    config: { swarmWholeBelowBytes: 65_536 },
    now: () => clock.ms,
  };
  await stageAhead(deps, ['h1'], pkg);
  assert.deepEqual(woken, ['h1']);
  view.forget('h1'); // what the hub's wake does
  const staged = await view.answer('h1');
  assert.equal(staged.generation, before.generation + 1, 'the generation raised: a parked poll ends with it');
  const json = JSON.parse(answerJson(staged, [], undefined)) as DesiredState;
  assert.deepEqual(json.stage, [{ ...pkg, url: `/api/v1/artifacts/${'d'.repeat(64)}` }]);
  assert.deepEqual(json.instances, JSON.parse(answerJson(before, [], undefined)).instances, 'nothing else changed');
  assert.ok(staged.fetchable.has(pkg.sha256), 'the tracker and the package route let it fetch the package');
  const other = await view.answer('h2');
  assert.equal(JSON.parse(answerJson(other, [], undefined)).stage, undefined, 'only for the hosts named');
  assert.equal(other.fetchable.has(pkg.sha256), false);
  // its batch writes the release: named by its instances, it is no longer staged
  await store.setDesired('h1', CLUSTER, { ...row('h1', 'def5678'), sha256: pkg.sha256 });
  view.forget('h1');
  const deployed = await view.answer('h1');
  assert.equal(JSON.parse(answerJson(deployed, [], undefined)).stage, undefined);
  assert.ok(deployed.fetchable.has(pkg.sha256));
  // staged and never deployed: named for STAGE_TTL_MS only
  await stageAhead(deps, ['h2'], pkg);
  view.forget('h2');
  assert.ok((await view.answer('h2')).fetchable.has(pkg.sha256));
  clock.ms += STAGE_TTL_MS;
  view.forget('h2');
  assert.equal((await view.answer('h2')).fetchable.has(pkg.sha256), false);
  // its deployment ended or goes back: staged for nobody
  await stageAhead(deps, ['h2'], pkg);
  view.forget('h2');
  assert.ok((await view.answer('h2')).fetchable.has(pkg.sha256));
  await view.unstage(pkg.tag, pkg.sha256);
  assert.equal((await view.answer('h2')).fetchable.has(pkg.sha256), false, 'at once, without a wake');
  // a package the tracker would send whole is not staged (nor are its hosts woken)
  woken.length = 0;
  await stageAhead({ ...deps, artifacts: { size: async () => 1_000 } }, ['h2'], { ...pkg, sha256: 'e'.repeat(64) });
  assert.deepEqual(woken, []);
  await store.close();
});

test('a staging is in the answers of every server sharing the store (several servers), and goes from them all when unstaged', async () => {
  const { store, view, clock } = await harness();
  const other = new DesiredView({
    store,
    signing: SIGNING,
    kindOf: async () => 'deploy' as const,
    runtimeRefs: async () => [],
    secretsFor: async () => ({}),
    signatureOf: async () => undefined,
    rootScopes: async () => [],
    now: () => clock.ms,
    epochMs: () => clock.ms,
  });
  await store.setDesired('h1', CLUSTER, row('h1', 'abc1234'));
  const before = await other.answer('h1');
  const pkg = { tag: CLUSTER, version: 'def5678', sha256: 'd'.repeat(64) };
  // the hub's wake reaches every server through the bus: each forgets the host
  const notify = (h: string): void => {
    for (const v of [view, other]) v.forget(h);
  };
  await stageAhead(
    { store, notify, artifacts: { size: async () => 1_000_000 }, config: { swarmWholeBelowBytes: 65_536 }, now: () => clock.ms },
    ['h1'],
    pkg,
  );
  for (const v of [view, other]) {
    const staged = await v.answer('h1');
    assert.equal(staged.generation, before.generation + 1);
    assert.deepEqual(JSON.parse(answerJson(staged, [], undefined)).stage, [{ ...pkg, url: `/api/v1/artifacts/${pkg.sha256}` }]);
    assert.ok(staged.fetchable.has(pkg.sha256));
  }
  // the server stepping the rollout unstages it: its own answers at once, the other's once they are no longer fresh
  await view.unstage(pkg.tag, pkg.sha256);
  assert.equal((await view.answer('h1')).fetchable.has(pkg.sha256), false);
  clock.ms += DESIRED_FRESH_MS;
  assert.equal((await other.answer('h1')).fetchable.has(pkg.sha256), false);
  await store.close();
});
