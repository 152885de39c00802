import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../store/open.js';
import type { CapacityRow } from '../store/index.js';
import { CAPACITY_RELOAD_MS, HostCapacities } from './host-capacity.js';

const AT = '2026-01-01T00:00:00.000Z';
const CAP = { cpu: 4, memory: 8 * 2 ** 30, disk: 100 * 2 ** 30, freePorts: 28200 };

test('a capacity is written when it changed, not on every report; the store is read once, and again after a minute', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    await store.upsertHost({ name: 'h1', labels: {}, address: null, joinedAt: AT });
    await store.upsertHost({ name: 'h2', labels: {}, address: null, joinedAt: AT });
    await store.schedule.setHostCapacity('h2', CAP); // written before this server started
    const writes: string[] = [];
    let reads = 0;
    const schedule = store.schedule;
    const spy = Object.create(store, {
      schedule: {
        get: () => ({
          ...schedule,
          setHostCapacity: (host: string, c: CapacityRow | null) => {
            writes.push(host);
            return schedule.setHostCapacity(host, c);
          },
          listHostCapacities: () => {
            reads++;
            return schedule.listHostCapacities();
          },
        }),
      },
    });
    let now = 1_000_000;
    const book = new HostCapacities(spy, () => now);

    await book.note('h1', undefined);
    assert.equal(reads, 0, 'a report without capacity costs nothing');
    for (let i = 0; i < 5; i++) await Promise.all([book.note('h1', CAP), book.note('h2', CAP)]);
    assert.deepEqual(writes, ['h1'], "h1 written once; h2's was stored already");
    assert.equal(reads, 1);
    assert.deepEqual((await store.getHost('h1'))?.capacity, CAP);

    // ports that come and go with connections (under 1% of 28,200) are no news; a real change is
    await book.note('h1', { ...CAP, freePorts: 28100 });
    await book.note('h1', { ...CAP, freePorts: 28420 });
    assert.deepEqual(writes, ['h1']);
    await book.note('h1', { ...CAP, freePorts: 27000 });
    assert.deepEqual(writes, ['h1', 'h1']);
    assert.equal((await store.getHost('h1'))?.capacity?.freePorts, 27000);

    // another server wrote h2's change back and forth: after a minute this one reads it again
    await store.schedule.setHostCapacity('h2', { ...CAP, cpu: 2 });
    await book.note('h2', CAP);
    assert.deepEqual(writes, ['h1', 'h1'], 'within the minute, what this server knew');
    now += CAPACITY_RELOAD_MS;
    await book.note('h2', CAP);
    assert.equal(reads, 2);
    assert.deepEqual(writes, ['h1', 'h1', 'h2']);
    assert.equal((await store.getHost('h2'))?.capacity?.cpu, 4);

    // a host removed and joined again: its first report is written
    book.forget('h1');
    await store.deleteHost('h1');
    await store.upsertHost({ name: 'h1', labels: {}, address: null, joinedAt: AT });
    await book.note('h1', { ...CAP, freePorts: 28100 });
    assert.equal((await store.getHost('h1'))?.capacity?.freePorts, 28100);

    // a host down to its last ports: every change is written, the same count is not
    const before = writes.length;
    await book.note('h1', { ...CAP, freePorts: 50 });
    await book.note('h1', { ...CAP, freePorts: 50 });
    await book.note('h1', { ...CAP, freePorts: 49 });
    assert.equal(writes.length - before, 2);
  } finally {
    await store.close();
  }
});
