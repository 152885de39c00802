import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waiters } from './waiters.js';

test('a parked function is called once at the next wake of its key, and not after an unpark', () => {
  const w = new Waiters();
  const calls: string[] = [];
  const one = (): void => void calls.push('one');
  const two = (): void => void calls.push('two');
  const other = (): void => void calls.push('other');
  w.park('h1', one);
  w.park('h1', one); // twice: parked once
  assert.equal(w.count('h1'), 1);
  w.park('h1', two);
  w.park('h2', other);
  assert.deepEqual([w.count('h1'), w.count('h2'), w.keys().sort()], [2, 1, ['h1', 'h2']]);
  w.wake('h1');
  assert.deepEqual(calls, ['one', 'two']);
  assert.deepEqual([w.count('h1'), w.keys()], [0, ['h2']], 'woken means no longer parked');
  w.wake('h1');
  assert.deepEqual(calls, ['one', 'two']);

  w.park('h1', one);
  w.park('h1', two);
  w.unpark('h1', one);
  w.unpark('h2', other);
  w.unpark('h3', other); // never parked there: nothing
  assert.deepEqual([w.count('h1'), w.count('h2')], [1, 0]);
  w.wakeAll();
  assert.deepEqual(calls, ['one', 'two', 'two']);
  assert.deepEqual(w.keys(), []);
});

test('a function parked again while its key wakes waits for the next wake', () => {
  const w = new Waiters();
  let calls = 0;
  const again = (): void => {
    calls++;
    w.park('h1', again);
  };
  w.park('h1', again);
  w.wake('h1');
  assert.deepEqual([calls, w.count('h1')], [1, 1]);
  w.wake('h1');
  assert.equal(calls, 2);
});

test('wait resolves at a wake, a timeout or an abort, and leaves nothing parked', async () => {
  const w = new Waiters();
  const woken = w.wait('h1', 60_000);
  const other = w.wait('h1', 60_000);
  assert.equal(w.count('h1'), 2);
  w.wake('h1');
  await Promise.all([woken, other]);
  assert.equal(w.count('h1'), 0);

  await w.wait('h1', 10);
  assert.equal(w.count('h1'), 0, 'timed out');

  const stop = new AbortController();
  const aborted = w.wait('h1', 60_000, undefined, stop.signal);
  const staying = w.wait('h1', 60_000);
  stop.abort();
  await aborted;
  assert.equal(w.count('h1'), 1, 'only the aborted wait left');
  await w.wait('h1', 60_000, AbortSignal.abort()); // aborted already: at once
  w.wakeAll();
  await staying;
  assert.deepEqual(w.keys(), []);
});
