import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineWheel, WHEEL_TICK_MS } from './watchers.js';

interface Item {
  name: string;
  tick: number;
}

/** Resolves when `check` holds, or fails after `ms`. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('DeadlineWheel', () => {
  it('expires items in the order of their deadlines, never before them; a removed item never expires', async () => {
    const expired: { name: string; lateMs: number }[] = [];
    const due = new Map<string, number>();
    const wheel = new DeadlineWheel<Item>((item) => expired.push({ name: item.name, lateMs: Date.now() - due.get(item.name)! }));
    const now = Date.now();
    const items: Item[] = [
      { name: 'c', tick: 0 },
      { name: 'a', tick: 0 },
      { name: 'gone', tick: 0 },
      { name: 'b', tick: 0 },
    ];
    const at = { a: 30, b: 60, c: 90, gone: 40 } as Record<string, number>;
    for (const item of items) {
      due.set(item.name, now + at[item.name]!);
      wheel.add(item, now + at[item.name]!);
    }
    assert.equal(wheel.size, 4);
    assert.equal(wheel.remove(items[2]!), true);
    assert.equal(wheel.remove(items[2]!), false, 'already out');
    await until(() => expired.length === 3, 5000);
    assert.deepEqual(
      expired.map((e) => e.name),
      ['a', 'b', 'c'],
    );
    for (const e of expired) assert.ok(e.lateMs >= 0, `${e.name} expired ${-e.lateMs} ms early`);
    assert.equal(wheel.size, 0);
  });

  it('an earlier deadline added later is still on time (the timer is moved), and drain empties it', async () => {
    const expired: string[] = [];
    const wheel = new DeadlineWheel<Item>((item) => expired.push(item.name));
    wheel.add({ name: 'late', tick: 0 }, Date.now() + 60_000);
    const started = Date.now();
    wheel.add({ name: 'soon', tick: 0 }, Date.now() + 2 * WHEEL_TICK_MS);
    await until(() => expired.length === 1, 5000);
    assert.deepEqual(expired, ['soon']);
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(
      wheel.drain().map((i) => i.name),
      ['late'],
    );
    assert.equal(wheel.size, 0);
  });
});
