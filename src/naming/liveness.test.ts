import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { LivenessWheel } from './liveness.js';

/** Waits until `ok()` or fails after `ms`. */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a host watched again at later moments lapses once, after the last of them', async () => {
  const lapsed: { host: string; at: number }[] = [];
  const wheel = new LivenessWheel((hosts) => {
    for (const host of hosts) lapsed.push({ host, at: Date.now() });
  });
  try {
    const t0 = Date.now();
    wheel.watch('h1', t0 + 60);
    wheel.watch('h2', t0 + 60);
    // h1 reports twice more before its first moment: each moves its moment later
    await new Promise((r) => setTimeout(r, 20));
    wheel.watch('h1', Date.now() + 60);
    await new Promise((r) => setTimeout(r, 20));
    const last = Date.now() + 300;
    wheel.watch('h1', last);
    // h2 lapses at the first moment, when h1's entry comes due with it (in the same bucket) and is put back
    await until(() => lapsed.some((l) => l.host === 'h2'), 5_000, 'h2 never lapsed');
    if (Date.now() < last) assert.ok(!lapsed.some((l) => l.host === 'h1'), 'h1 is still live at its first moment');
    await until(() => lapsed.some((l) => l.host === 'h1'), 5_000, 'h1 never lapsed');
    const h1 = lapsed.filter((l) => l.host === 'h1');
    assert.equal(h1.length, 1, 'once');
    assert.ok(h1[0]!.at > last, `lapsed ${h1[0]!.at - last} ms after its last live moment, not before it`);
    assert.equal(wheel.size, 0);
  } finally {
    wheel.close();
  }
});

test('a sooner moment moves the host sooner; none takes it out', async () => {
  const lapsed: string[] = [];
  const wheel = new LivenessWheel((hosts) => lapsed.push(...hosts));
  try {
    wheel.watch('h1', Date.now() + 60_000);
    wheel.watch('h2', Date.now() + 60_000);
    wheel.watch('h1', Date.now() + 30); // its source now says it goes down sooner
    await until(() => lapsed.includes('h1'), 5_000, 'h1 never lapsed at its sooner moment');
    wheel.watch('h2', undefined); // down: nothing to wait for
    assert.equal(wheel.size, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(lapsed, ['h1']);
  } finally {
    wheel.close();
  }
});
