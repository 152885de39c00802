import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { NoopsError } from '../errors/index.js';
import { openStore } from './open.js';
import { isBusy, retryWhileBusy, SQLITE_BUSY_TIMEOUT_MS } from './patient-sqlite.js';

const busy = (): Error => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

test('retryWhileBusy: tries again while busy, then answers', async () => {
  let tries = 0;
  const out = await retryWhileBusy(() => {
    tries += 1;
    if (tries < 3) throw busy();
    return 'done';
  }, 1000);
  assert.equal(out, 'done');
  assert.equal(tries, 3);
});

test('retryWhileBusy: past the deadline, NOOPS_E_STORE_BUSY (503) with the busy error as cause', async () => {
  const err = await retryWhileBusy(() => {
    throw busy();
  }, 50).catch((e: unknown) => e);
  assert.ok(err instanceof NoopsError);
  assert.equal(err.code, 'NOOPS_E_STORE_BUSY');
  assert.equal(err.status, 503);
  assert.ok(isBusy(err.cause));
});

test('retryWhileBusy: other errors pass through at once', async () => {
  let tries = 0;
  const err = await retryWhileBusy(() => {
    tries += 1;
    throw new Error('no such table');
  }, 1000).catch((e: unknown) => e);
  assert.equal((err as Error).message, 'no such table');
  assert.equal(tries, 1);
});

test('a file locked by another handle: reads answer, the event loop runs, the write lands after the lock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-patient-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'noops.db');
  const store = await openStore(`sqlite:${file}`);
  t.after(() => store.close());
  await store.setMeta('k', 'before');

  const other = new BetterSqlite3(file);
  other.exec('begin exclusive');
  let written = false;
  let settled = false;
  const write = store
    .setMeta('k', 'after')
    .then(() => {
      written = true;
    })
    .finally(() => {
      settled = true;
    });

  // The event loop is free: a timer fires while the write still waits for the lock, which one
  // synchronous wait (better-sqlite3's busy_timeout) for the whole lock would not let happen. How
  // soon it fires is a figure for a benchmark; what bounds each synchronous wait is this constant.
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(settled, false, 'a timer fired while the write waited');
  assert.ok(SQLITE_BUSY_TIMEOUT_MS < 200, `one synchronous wait for the lock is ${SQLITE_BUSY_TIMEOUT_MS} ms`);
  // Reads go on (WAL: the reader handle does not wait for the writer).
  assert.equal(await store.getMeta('k'), 'before');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(written, false, 'the write waited for the lock');

  other.exec('commit');
  other.close();
  await write;
  assert.equal(await store.getMeta('k'), 'after');
});

test('a transaction waits for the lock at BEGIN and commits once it is free', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-patient-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'noops.db');
  const store = await openStore(`sqlite:${file}`);
  t.after(() => store.close());
  const other = new BetterSqlite3(file);
  other.exec('begin exclusive');
  const done = store.tx(async (s) => {
    await s.setMeta('a', '1');
    await s.setMeta('b', '2');
  });
  setTimeout(() => {
    other.exec('commit');
    other.close();
  }, 200);
  await done;
  assert.equal(await store.getMeta('a'), '1');
  assert.equal(await store.getMeta('b'), '2');
});
