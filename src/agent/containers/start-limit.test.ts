import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StartLimit } from './start-limit.js';

/** A start that ends when the test says so. */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

test('at most `limit` run at once; the others start in order as turns free up, a failure included', async () => {
  const limit = new StartLimit(2);
  const gates = Array.from({ length: 5 }, gate);
  const started: number[] = [];
  const runs = gates.map((g, i) =>
    limit.run(async () => {
      started.push(i);
      await g.promise;
      return i;
    }),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(limit.counts, { active: 2, waiting: 3 });
  gates[1]!.fail(new Error('the engine said no'));
  await assert.rejects(runs[1]!, /the engine said no/);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1, 2], 'a failed start frees its turn');
  for (const g of gates) g.open();
  assert.deepEqual(await Promise.all([runs[0], runs[2], runs[3], runs[4]]), [0, 2, 3, 4]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.deepEqual(limit.counts, { active: 0, waiting: 0 });
});

test('a limit is a whole number >= 1', () => {
  assert.throws(() => new StartLimit(0), RangeError);
});
