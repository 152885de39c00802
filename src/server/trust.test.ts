import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../store/open.js';
import { adoptedKey, adoptPlan, serverIdentity, serverStamp } from './trust.js';

test('what adopting a host will do: stop what is not desired, switch, start, keep', () => {
  assert.deepEqual(
    adoptPlan(
      [
        { tag: 'a', version: 'v2' },
        { tag: 'b', version: 'v1' },
        { tag: 'c', version: 'v1' },
      ],
      [
        { tag: 'a', version: 'v1' },
        { tag: 'c', version: 'v1' },
        { tag: 'd', version: 'v3' },
      ],
    ),
    {
      stops: [{ tag: 'b', version: 'v1' }],
      switches: [{ tag: 'a', from: 'v2', to: 'v1' }],
      starts: [{ tag: 'd', version: 'v3' }],
      keeps: [{ tag: 'c', version: 'v1' }],
    },
  );
  assert.deepEqual(adoptPlan([], []), { stops: [], switches: [], starts: [], keeps: [] });
});

test('a database has one identity, created once; another database has another', async () => {
  const a = await openStore('sqlite::memory:');
  const b = await openStore('sqlite::memory:');
  const id = await serverIdentity(a);
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(await serverIdentity(a), id);
  assert.equal(await a.initMeta('server_id', 'another'), id, "a second server on the database keeps the first one's");
  assert.notEqual(await serverIdentity(b), id);
  assert.deepEqual(await serverStamp(a, 'h1'), { id });
  await a.setMeta(adoptedKey('h1'), JSON.stringify({ refusal: 'r1', generation: 9, by: 'admin', at: 'x' }));
  assert.deepEqual(await serverStamp(a, 'h1'), { id, adopted: 'r1' });
  await a.close();
  await b.close();
});

test("a host's generation is raised, never lowered", async () => {
  const s = await openStore('sqlite::memory:');
  assert.equal(await s.raiseDesiredGeneration('h1', 5), 5, 'a host without a generation');
  assert.equal(await s.raiseDesiredGeneration('h1', 3), 5);
  assert.equal(await s.raiseDesiredGeneration('h1', 8), 8);
  assert.equal(await s.desiredGeneration('h1'), 8);
  await s.close();
});
