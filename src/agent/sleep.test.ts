import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { sleep } from './sleep.js';

test('sleeps that end on time leave no listener on the shared signal', async () => {
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('an abort ends a long sleep at once, and a sleep on an aborted signal does not wait', async () => {
  const ac = new AbortController();
  const started = Date.now();
  const long = sleep(60_000, ac.signal);
  ac.abort();
  await long;
  await sleep(60_000, ac.signal);
  assert.ok(Date.now() - started < 60_000, 'both sleeps ended without waiting their 60 s');
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});
