import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStore } from '../store/open.js';
import { NEEDS_PG, testDatabase } from '../store/test-pg.js';
import type { Store } from '../store/index.js';
import { NoopsError } from '../errors/index.js';
import { Leadership, LOOPS } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-lead-'));
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** The two backends the lease must work on: SQLite always, PostgreSQL when the test has one. */
const BACKENDS: { name: string; skip: string | false; open: () => Promise<Store> }[] = [
  { name: 'sqlite', skip: false, open: () => openStore(`sqlite:${join(dir, `${randomBytes(4).toString('hex')}.db`)}`) },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    open: async () => {
      const db = await testDatabase('noops_lead');
      cleanups.push(() => db.drop());
      return openStore(db.url);
    },
  },
];

/** Waits for `check` against a deadline (never a fixed sleep). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function fencedCode(err: unknown): boolean {
  return err instanceof NoopsError && err.code === 'NOOPS_E_FENCED';
}

for (const b of BACKENDS) {
  test(`${b.name}: a lease has one holder; a new holder only after it expired, with a higher epoch; the old holder's writes are refused`, {
    skip: b.skip,
  }, async () => {
    const store = await b.open();
    cleanups.push(() => store.close());
    assert.equal(await store.acquireLease('rollout', 'a', 200), 1);
    assert.equal(await store.acquireLease('rollout', 'b', 200), undefined, 'b cannot take a live lease');
    assert.equal(await store.acquireLease('rollout', 'a', 200), 1, 'its holder renews it, same epoch');
    // a write under a's fence goes through while it holds the lease
    await store.fenced({ loop: 'rollout', holder: 'a', epoch: 1 }, (s) => s.setMeta('probe', 'a'));
    assert.equal(await store.getMeta('probe'), 'a');
    // a stops renewing (paused): once expired, b takes it with epoch 2
    let epoch: number | undefined;
    await until('b takes the expired lease', async () => (epoch = await store.acquireLease('rollout', 'b', 5000)) !== undefined);
    assert.equal(epoch, 2);
    await assert.rejects(
      store.fenced({ loop: 'rollout', holder: 'a', epoch: 1 }, (s) => s.setMeta('probe', 'a again')),
      (err) => fencedCode(err) && /server b holds it now \(epoch 2\)/.test((err as Error).message),
    );
    assert.equal(await store.getMeta('probe'), 'a', 'the refused write changed nothing');
    assert.equal(await store.acquireLease('rollout', 'a', 200), undefined, 'a cannot renew what b holds');
    // an expired lease fences its own holder too (a paused server that nobody replaced)
    assert.equal(await store.acquireLease('judge', 'c', 1), 1);
    await until('the lease expires', async () => {
      try {
        await store.fenced({ loop: 'judge', holder: 'c', epoch: 1 }, async () => undefined);
        return false;
      } catch (err) {
        return fencedCode(err) && /expired/.test((err as Error).message);
      }
    });
    // giving a lease up lets another take it at once, with a higher epoch
    await store.releaseLease('rollout', 'b');
    assert.equal(await store.acquireLease('rollout', 'a', 5000), 3);
  });

  test(`${b.name}: Leadership: the first server leads, a second takes over when the first stops, and servers are listed with what they lead`, {
    skip: b.skip,
  }, async () => {
    const store = await b.open();
    cleanups.push(() => store.close());
    const a = new Leadership(store, { serverId: 'srv-a', loops: [LOOPS.rollout], leaseMs: 1000 });
    const bb = new Leadership(store, { serverId: 'srv-b', loops: [LOOPS.rollout], leaseMs: 1000 });
    cleanups.push(() => bb.stop());
    const gained: string[] = [];
    bb.on('gained', (loop, fence) => gained.push(`${loop}@${fence.epoch}`));
    await a.start('http://127.0.0.1:1');
    await bb.start('http://127.0.0.1:2');
    assert.equal(a.leads(LOOPS.rollout), true);
    assert.equal(bb.leads(LOOPS.rollout), false);
    assert.deepEqual(a.fence(LOOPS.rollout), { loop: 'rollout', holder: 'srv-a', epoch: 1 });
    assert.equal(bb.fence(LOOPS.rollout), undefined);
    const listed = await bb.servers();
    assert.deepEqual(
      listed.map((s) => ({ id: s.id, address: s.address, leads: s.leads })),
      [
        { id: 'srv-a', address: 'http://127.0.0.1:1', leads: ['rollout'] },
        { id: 'srv-b', address: 'http://127.0.0.1:2', leads: [] },
      ],
    );
    assert.ok(Date.now() - Date.parse(listed[0]!.lastSeen) < 5000);
    const lost: string[] = [];
    a.on('lost', (loop) => lost.push(loop));
    await a.stop();
    assert.deepEqual(lost, ['rollout']);
    assert.equal(a.leads(LOOPS.rollout), false);
    await until('b leads rollout', () => bb.leads(LOOPS.rollout));
    assert.deepEqual(gained, ['rollout@2']);
    assert.deepEqual(
      (await bb.servers()).map((s) => ({ id: s.id, leads: s.leads })),
      [{ id: 'srv-b', leads: ['rollout'] }],
      'a stopped cleanly: it left the list',
    );
  });

  test(`${b.name}: the database's clock is the machine's here (same host), in milliseconds`, { skip: b.skip }, async () => {
    const store = await b.open();
    cleanups.push(() => store.close());
    const before = Date.now();
    const now = await store.databaseNow();
    // one machine: the two clocks agree to within the query's time (a minute is far beyond it)
    assert.ok(Number.isInteger(now) && Math.abs(now - before) < 60_000, `database ${now}, process ${before}`);
  });

  test(`${b.name}: Leadership: a refused write makes the server stop leading at once`, { skip: b.skip }, async () => {
    const store = await b.open();
    cleanups.push(() => store.close());
    const a = new Leadership(store, { serverId: 'srv-a', loops: [LOOPS.rollout], leaseMs: 60_000 });
    cleanups.push(() => a.stop());
    await a.start('http://127.0.0.1:1');
    const reasons: string[] = [];
    a.on('lost', (_loop, why) => reasons.push(why));
    a.fenced(LOOPS.rollout, 'NOOPS_E_FENCED: refused');
    assert.equal(a.leads(LOOPS.rollout), false);
    assert.deepEqual(reasons, ['NOOPS_E_FENCED: refused']);
  });
}
