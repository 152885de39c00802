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

test('a clock stepped back while the wheel fires does not hold the event loop', async () => {
  const wheel = new LivenessWheel(() => undefined);
  const realNow = Date.now;
  try {
    const t0 = realNow();
    wheel.watch('h1', t0 + 30);
    wheel.watch('h1', t0 + 40); // a report since: its entry stays at the first moment
    // The loop is busy past both moments, and the clock steps back 5 s once the wheel's firing
    // has read it (at the host's first look): the host looks live again, until a moment the
    // firing still takes. Put back in the wheel then, it would come due again and again until
    // the clock caught up.
    let offset = 0;
    Date.now = () => {
      if (offset === 0 && /LivenessWheel\.due/.test(new Error().stack ?? '')) offset = 5_000;
      return realNow() - offset;
    };
    while (realNow() < t0 + 60) {
      // busy
    }
    const before = realNow();
    await new Promise((r) => setTimeout(r, 0)); // after the wheel's timer, due long before this one
    assert.equal(offset, 5_000, 'the clock stepped back at the firing');
    assert.ok(realNow() - before < 2_500, `the event loop was held ${realNow() - before} ms`);
    assert.equal(wheel.size, 1, 'the host is watched until its moment, by the clock as it is now');
  } finally {
    Date.now = realNow;
    wheel.close();
  }
});
