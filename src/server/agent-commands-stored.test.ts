/**
 * The stored command queue on SQLite, and on PostgreSQL when NOOPS_TEST_PG_URL is set (a fresh
 * database per test, dropped after): the in-memory queue's behaviour (agent-commands.test.ts),
 * and what only the store brings: two queues (two servers) on one database and one bus, expiry
 * and forgetting by any server's sweep, a reader that stopped reading.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ChangeBus, LocalChangeBus, type Subscriber, Subscribers } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/index.js';
import { COMMANDS_QUEUED_PER_HOST, IDLE_MS, MAX_OUTPUT, PICKUP_MS, RETAIN_MS } from './agent-commands.js';
import { KNOWN_EMPTY_MS, StoredCommandQueue } from './agent-commands-stored.js';
import { NEEDS_PG, testDatabase } from '../store/test-pg.js';

/** A fresh store of `backend`; closing it drops a PostgreSQL database. */
async function freshStore(backend: 'sqlite' | 'postgres'): Promise<{ store: Store; drop: () => Promise<void> }> {
  if (backend === 'sqlite') return { store: await openStore('sqlite::memory:'), drop: async () => {} };
  const db = await testDatabase('noops_cmdq');
  return { store: await openStore(db.url), drop: () => db.drop() };
}

const req = { host: 'h1', action: 'logs' as const, tag: 'cop.a', process: null, lines: 5, follow: true, initiator: 'admin' };

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`the stored command queue on ${backend}`, {
    skip: backend === 'postgres' ? NEEDS_PG : false,
  }, () => {
    /** A store, a bus, a movable clock, and `n` queues on them (as `n` servers on one database). */
    async function setUp(
      n = 1,
    ): Promise<{ store: Store; queues: StoredCommandQueue[]; clock: { now: number }; close: () => Promise<void> }> {
      const { store, drop } = await freshStore(backend);
      const bus = new LocalChangeBus();
      const clock = { now: Date.now() };
      const queues = Array.from({ length: n }, () => new StoredCommandQueue(store, bus, { now: () => clock.now, sweepMs: 3_600_000 }));
      return {
        store,
        queues,
        clock,
        async close() {
          for (const q of queues) q.close();
          await bus.close();
          await store.close();
          await drop();
        },
      };
    }

    test('a command goes queued -> running -> done, its output read by offset', async () => {
      const { queues, close } = await setUp();
      const book = queues[0]!;
      const cmd = await book.create(req);
      assert.equal(cmd.status, 'queued');
      const taken = await book.take('h1', 1_000);
      assert.deepEqual(taken, [{ id: cmd.id, action: 'logs', tag: 'cop.a', process: null, lines: 5, follow: true }]);
      assert.deepEqual(await book.take('h1', 10), [], 'taken once');
      assert.deepEqual(await book.update('h1', cmd.id, { output: 'one\n' }), { cancelled: false });
      const first = await book.read(cmd.id, 0, 10);
      assert.deepEqual([first.status, first.output, first.offset], ['running', 'one\n', 4]);
      const waiting = book.read(cmd.id, 4, 5_000);
      await book.update('h1', cmd.id, { output: 'two\n', done: true, result: { ok: 1 } });
      const second = await waiting;
      assert.deepEqual([second.status, second.output, second.offset, second.result], ['done', 'two\n', 8, { ok: 1 }]);
      assert.deepEqual([(await book.read(cmd.id, 0, 0)).output, (await book.peek(cmd.id)).output], ['one\ntwo\n', '']);
      await close();
    });

    test('two servers: queued on A, taken by the agent parked on B, output posted to B read (and waited for) on A', async () => {
      const { queues, close } = await setUp(2);
      const [a, b] = queues as [StoredCommandQueue, StoredCommandQueue];
      const parked = b.take('h2', 5_000);
      assert.deepEqual(await b.take('h3', 10), []);
      const cmd = await a.create({ ...req, host: 'h2' });
      assert.equal((await parked)[0]?.id, cmd.id);
      assert.equal((await a.create(req)).id, cmd.id + 1, 'ids come from the database: unique across servers');
      const reading = a.read(cmd.id, 0, 5_000);
      assert.deepEqual(await b.update('h2', cmd.id, { output: 'from b\n' }), { cancelled: false });
      assert.equal((await reading).output, 'from b\n');
      await assert.rejects(async () => b.update('h1', cmd.id, { done: true }), { code: 'NOOPS_E_NOT_FOUND' });
      // a cancel through A reaches the agent's next update on B
      assert.equal((await a.cancel(cmd.id)).status, 'cancelled');
      assert.deepEqual(await b.update('h2', cmd.id, { output: 'late' }), { cancelled: true });
      await close();
    });

    test('cancel: the agent is told at its next update; errors end a command as failed', async () => {
      const { queues, close } = await setUp();
      const book = queues[0]!;
      const a = await book.create(req);
      await book.take('h1', 10);
      assert.equal((await book.cancel(a.id)).status, 'cancelled');
      assert.deepEqual(await book.update('h1', a.id, { output: 'late' }), { cancelled: true });
      const b = await book.create({ ...req, action: 'restart', follow: false });
      await book.take('h1', 10);
      await book.update('h1', b.id, { error: { code: 'NOOPS_E_WATCH_UNKNOWN', message: 'no watch', hint: 'h' } });
      const read = await book.read(b.id, 0, 10);
      assert.deepEqual([read.status, read.error?.code], ['failed', 'NOOPS_E_WATCH_UNKNOWN']);
      await assert.rejects(async () => book.peek(9999), { code: 'NOOPS_E_NOT_FOUND' });
      await close();
    });

    test('unread output is bounded: a slow reader loses the oldest, the offsets say so, old chunks are deleted', async () => {
      const { store, queues, close } = await setUp();
      const book = queues[0]!;
      const cmd = await book.create(req);
      await book.take('h1', 10);
      const chunk = 'x'.repeat(600 * 1024);
      await book.update('h1', cmd.id, { output: chunk });
      await book.update('h1', cmd.id, { output: chunk });
      await book.update('h1', cmd.id, { output: `${chunk}end` });
      const read = await book.read(cmd.id, 0, 10);
      assert.equal(read.offset, 1800 * 1024 + 3);
      assert.equal(read.output.length, MAX_OUTPUT);
      assert.ok(read.output.endsWith('xend'));
      const kept = (await store.readAgentCommand(cmd.id, 0))!.chunks;
      assert.deepEqual(
        kept.map((c) => c.pos),
        [600 * 1024, 1200 * 1024],
        'the first chunk, wholly before the last MAX_OUTPUT, is gone',
      );
      await close();
    });

    test('a host has at most COMMANDS_QUEUED_PER_HOST commands waiting; then NOOPS_E_COMMANDS_FULL (429), other hosts unaffected', async () => {
      const { queues, close } = await setUp();
      const book = queues[0]!;
      for (let i = 0; i < COMMANDS_QUEUED_PER_HOST; i++) await book.create(req);
      await assert.rejects(
        async () => book.create(req),
        (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_COMMANDS_FULL' && e.status === 429,
      );
      assert.equal((await book.create({ ...req, host: 'h2' })).status, 'queued');
      await book.take('h1', 10);
      assert.equal((await book.create(req)).status, 'queued');
      await close();
    });

    test('expiry and forgetting: any server sweeps; an untaken command expires, its reader is woken; ended ones go after RETAIN_MS', async () => {
      const { queues, clock, close } = await setUp(2);
      const [a, b] = queues as [StoredCommandQueue, StoredCommandQueue];
      const cmd = await a.create(req);
      const reading = a.read(cmd.id, 0, 5_000);
      clock.now += PICKUP_MS + 1;
      assert.deepEqual(await b.take('h1', 10), [], 'past PICKUP_MS it is never handed out');
      await b.sweep(); // server B expires what A queued (A may be dead)
      await a.sweep(); // twice is harmless
      const expired = await reading;
      assert.deepEqual([expired.status, expired.error?.code], ['expired', 'NOOPS_E_COMMAND_TIMEOUT']);
      clock.now += RETAIN_MS + 1;
      await b.sweep();
      await assert.rejects(async () => a.peek(cmd.id), { code: 'NOOPS_E_NOT_FOUND' });
      await close();
    });

    test('a following command nobody read for IDLE_MS is cancelled at the agent next update', async () => {
      const { queues, clock, close } = await setUp();
      const book = queues[0]!;
      const follow = await book.create(req);
      const once = await book.create({ ...req, follow: false });
      await book.take('h1', 10);
      clock.now += IDLE_MS + 1;
      assert.deepEqual(await book.update('h1', follow.id, { output: 'x' }), { cancelled: true });
      assert.equal((await book.peek(follow.id)).status, 'cancelled');
      assert.deepEqual(await book.update('h1', once.id, { output: 'x' }), { cancelled: false }, 'not following: no reader needed');
      await close();
    });

    test('a bus resync wakes every parked poll (they read the store again)', async () => {
      const { store, drop } = await freshStore(backend);
      let subscriber: Subscriber | undefined;
      // a bus that delivers nothing: only the resync can wake the polls
      const bus: ChangeBus = {
        publish: async () => {},
        subscribe: (_channel, s) => {
          subscriber = s;
          return () => {};
        },
        close: async () => {},
      };
      const q = new StoredCommandQueue(store, bus);
      const cmd = await q.create(req);
      await q.takeQueued('h1');
      const started = Date.now();
      const parked = [q.take('h9', 10_000), q.read(cmd.id, 0, 10_000)];
      subscriber!.resync();
      const [taken, read] = await Promise.all(parked);
      assert.deepEqual(taken, []);
      assert.equal((read as { status: string }).status, 'running');
      assert.ok(Date.now() - started < 5_000, 'woken, not timed out');
      q.close();
      await store.close();
      await drop();
    });

    /**
     * `store` with its queue reads counted, and `hold` to keep a hasQueued answer back until
     * released: `read` resolves once the held read has its answer from the store.
     */
    function counted(store: Store): { store: Store; reads: () => number; hold: () => { read: Promise<void>; release: () => void } } {
      let reads = 0;
      let held: { gate: Promise<void>; read: () => void } | undefined;
      const wrapped = Object.create(store) as Store;
      wrapped.hasQueuedAgentCommand = async (host, after) => {
        reads++;
        const queued = await store.hasQueuedAgentCommand(host, after);
        const h = held;
        if (h) {
          h.read();
          await h.gate;
        }
        return queued;
      };
      wrapped.takeAgentCommands = (host, after, at) => {
        reads++;
        return store.takeAgentCommands(host, after, at);
      };
      return {
        store: wrapped,
        reads: () => reads,
        hold: () => {
          let release!: () => void;
          let read!: () => void;
          const gate = new Promise<void>((r) => (release = r));
          const hasRead = new Promise<void>((r) => (read = r));
          held = { gate, read };
          return {
            read: hasRead,
            release: () => {
              held = undefined;
              release();
            },
          };
        },
      };
    }

    test('a host found with nothing queued is answered from memory until a command is announced, or for KNOWN_EMPTY_MS', async () => {
      const { store, drop } = await freshStore(backend);
      const c = counted(store);
      const bus = new LocalChangeBus();
      const clock = { now: Date.now() };
      const opts = { now: () => clock.now, sweepMs: 3_600_000 };
      const [a, b] = [new StoredCommandQueue(c.store, bus, opts), new StoredCommandQueue(c.store, bus, opts)];
      // a server whose bus hears nothing from the others (their notify lost)
      const deaf = new StoredCommandQueue(c.store, new LocalChangeBus(), opts);
      try {
        assert.deepEqual(await b.takeQueued('h1'), []);
        assert.equal(await deaf.hasQueued('h1'), false);
        const read = c.reads();
        assert.equal(read, 2);
        for (let i = 0; i < 5; i++) {
          assert.equal(await b.hasQueued('h1'), false);
          assert.deepEqual(await b.takeQueued('h1'), []);
        }
        assert.equal(c.reads(), read, 'ten polls, no store read');
        const cmd = await a.create(req); // announced: b reads the store again at once
        assert.equal(await b.hasQueued('h1'), true);
        assert.equal(await deaf.hasQueued('h1'), false, 'not told: still answered from memory');
        assert.deepEqual(
          (await b.takeQueued('h1')).map((x) => x.id),
          [cmd.id],
        );
        assert.deepEqual(await b.takeQueued('h1'), [], 'the take leaves nothing queued: known again');
        const after = c.reads();
        await b.hasQueued('h1');
        assert.equal(c.reads(), after);
        // a command the deaf server never heard of is read once its knowledge is KNOWN_EMPTY_MS old
        const lost = await a.create({ ...req, host: 'h2' });
        assert.equal(await deaf.hasQueued('h2'), true, 'h2 was never read: the store is');
        await a.create(req);
        clock.now += KNOWN_EMPTY_MS - 1;
        assert.equal(await deaf.hasQueued('h1'), false, 'within KNOWN_EMPTY_MS');
        clock.now += 1;
        assert.equal(await deaf.hasQueued('h1'), true, 'past it: read again');
        assert.equal((await deaf.takeQueued('h2'))[0]?.id, lost.id);
        assert.equal((await deaf.takeQueued('h1')).length, 1, "h1's second command taken: none known again");
        clock.now -= 60_000; // the clock stepped back: what was read "in the future" is read again
        const beforeStep = c.reads();
        await deaf.hasQueued('h1');
        assert.equal(c.reads(), beforeStep + 1);
      } finally {
        for (const q of [a, b, deaf]) q.close();
        await store.close();
        await drop();
      }
    });

    test("every server's sweep wakes a poll parked for a host whose command it never heard of", async () => {
      const { store, drop } = await freshStore(backend);
      const opts = { sweepMs: 3_600_000 };
      const a = new StoredCommandQueue(store, new LocalChangeBus(), opts);
      const deaf = new StoredCommandQueue(store, new LocalChangeBus(), opts); // a's announcements never reach it
      try {
        assert.equal(await deaf.hasQueued('h1'), false); // known: none
        const parked = deaf.take('h1', 20_000);
        const cmd = await a.create(req);
        await deaf.sweep();
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          parked.then((taken) => taken.map((x) => x.id)),
          new Promise((r) => (timer = setTimeout(() => r('still parked'), 10_000))),
        ]);
        clearTimeout(timer);
        assert.deepEqual(outcome, [cmd.id], 'the sweep read the queued hosts and woke the poll, which took the command');
      } finally {
        a.close();
        deaf.close();
        await store.close();
        await drop();
      }
    });

    test('a read that found nothing keeps nothing when its host was announced, or the bus resynced, while it was on its way', async () => {
      const { store, drop } = await freshStore(backend);
      const c = counted(store);
      const subs = new Subscribers();
      const bus: ChangeBus = {
        publish: async (channel, payload) => subs.deliver(channel, payload),
        subscribe: (channel, s) => subs.add(channel, s),
        close: async () => subs.clear(),
      };
      const [a, b] = [new StoredCommandQueue(c.store, bus), new StoredCommandQueue(c.store, bus)];
      const deaf = new StoredCommandQueue(c.store, new LocalChangeBus()); // a server whose notify is lost
      try {
        let held = c.hold();
        let checking = b.hasQueued('h1'); // its read finds nothing; its answer is held
        await held.read;
        const cmd = await a.create(req);
        held.release();
        assert.equal(await checking, false, 'what the read saw');
        assert.deepEqual(
          (await b.takeQueued('h1')).map((x) => x.id),
          [cmd.id],
          'the announcement came after the read began: the store is read again',
        );
        held = c.hold();
        checking = b.hasQueued('h3');
        await held.read;
        const unheard = await deaf.create({ ...req, host: 'h3' });
        subs.resyncAll(); // b's bus may have missed changes
        held.release();
        assert.equal(await checking, false);
        assert.deepEqual(
          (await b.takeQueued('h3')).map((x) => x.id),
          [unheard.id],
          'the resync came after the read began: the store is read again',
        );
      } finally {
        for (const q of [a, b, deaf]) q.close();
        await store.close();
        await drop();
      }
    });
  });
}
