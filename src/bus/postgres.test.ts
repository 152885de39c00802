/**
 * The bus on a real PostgreSQL (NOOPS_TEST_PG_URL): a change published by one bus reaches
 * another, and a bus whose LISTEN connection was dropped reconnects and tells its subscribers
 * to resynchronise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { CHANNELS } from './index.js';
import { openPostgresBus } from './postgres.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const skip = PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it';

/** Waits for `check` to hold, up to `ms`. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a change published on one bus reaches the subscribers of another, once, and not its own twice', { skip }, async () => {
  const a = await openPostgresBus(PG_URL!);
  const b = await openPostgresBus(PG_URL!);
  try {
    const onA: string[] = [];
    const onB: string[] = [];
    a.subscribe(CHANNELS.desired, { change: (p) => onA.push(p), resync: () => onA.push('resync') });
    b.subscribe(CHANNELS.desired, { change: (p) => onB.push(p), resync: () => onB.push('resync') });
    b.subscribe(CHANNELS.agentTokens, { change: (p) => onB.push(`tokens ${p}`), resync: () => {} });
    const started = performance.now();
    await Promise.all([a.publish(CHANNELS.desired, 'web-1'), a.publish(CHANNELS.desired, 'web 2 with spaces')]);
    await until('b to hear both', () => onB.length === 2);
    const ms = performance.now() - started;
    assert.deepEqual(onB, ['web-1', 'web 2 with spaces']);
    // a: told directly when it published; its own message coming back is dropped
    await a.publish(CHANNELS.agentTokens, 'agent-x');
    await until('b to hear the token change', () => onB.length === 3);
    assert.deepEqual(onA, ['web-1', 'web 2 with spaces']);
    assert.equal(onB[2], 'tokens agent-x');
    process.stdout.write(`# bus: published on a, received on b in ${ms.toFixed(1)} ms\n`);
  } finally {
    await a.close();
    await b.close();
  }
});

test('after its LISTEN connection is dropped, a bus reconnects, resyncs its subscribers and hears again', { skip }, async () => {
  const a = await openPostgresBus(PG_URL!, () => {});
  const b = await openPostgresBus(PG_URL!, () => {});
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    const events: string[] = [];
    b.subscribe(CHANNELS.desired, { change: (p) => events.push(p), resync: () => events.push('resync') });
    const { rowCount } = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [
      b.listenerName,
    ]);
    assert.equal(rowCount, 1);
    await until('b to resync', () => events.includes('resync'));
    assert.equal(b.reconnects, 1);
    await a.publish(CHANNELS.desired, 'after');
    await until('b to hear a change after reconnecting', () => events.includes('after'));
    assert.deepEqual(events, ['resync', 'after']);
  } finally {
    await admin.end();
    await a.close();
    await b.close();
  }
});
