import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideConditionRestart, decideEnd, freshBook, planRestart, type Policy, type RestartBook } from './index.js';

const backoff = { backoffBaseMs: 1_000, backoffMaxMs: 30_000, stableMs: 60_000 };
const flapping = { times: 3, withinMs: 60_000, retryInMs: 300_000, retryTimes: 2, retryWithinMs: 3_600_000 };
const policy: Policy = { ...backoff, restart: 'always', flapping };

describe('planRestart', () => {
  test('at once first, then base doubling per consecutive death up to the cap; counts failed starts', () => {
    let next = 0;
    let failed = 0;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const plan = planRestart({ state: 'starting', upForMs: null, nextBackoffMs: next, failedStarts: failed }, backoff);
      delays.push(plan.delayMs);
      next = plan.nextBackoffMs;
      failed = plan.failedStarts;
    }
    assert.deepEqual(delays, [0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    assert.equal(failed, 8);
  });
  test('a stable run resets the backoff to at once; a death after up is no failed start', () => {
    assert.deepEqual(planRestart({ state: 'up', upForMs: 60_000, nextBackoffMs: 16_000, failedStarts: 0 }, backoff), {
      delayMs: 0,
      nextBackoffMs: 1_000,
      failedStarts: 0,
    });
    assert.deepEqual(planRestart({ state: 'up', upForMs: 5_000, nextBackoffMs: 16_000, failedStarts: 0 }, backoff), {
      delayMs: 16_000,
      nextBackoffMs: 30_000,
      failedStarts: 0,
    });
  });
});

describe('decideEnd', () => {
  const died = (now: number, code: number | null = 1, signal: string | null = null) => ({
    state: 'starting' as const,
    upForMs: null,
    code,
    signal,
    now,
  });

  test('restart policies: always restarts a clean exit; on-failure only a failure; never nothing', () => {
    assert.equal(decideEnd(died(0, 0), freshBook(), policy).decision.action, 'restart');
    assert.deepEqual(decideEnd(died(0, 0), freshBook(), { ...policy, restart: 'on-failure' }).decision, {
      action: 'exit',
      why: 'restart policy on-failure: it exited with code 0',
    });
    assert.equal(decideEnd(died(0, 2), freshBook(), { ...policy, restart: 'on-failure' }).decision.action, 'restart');
    assert.equal(decideEnd(died(0, null, 'SIGKILL'), freshBook(), { ...policy, restart: 'on-failure' }).decision.action, 'restart');
    assert.deepEqual(decideEnd(died(0, 1), freshBook(), { ...policy, restart: 'never' }).decision, {
      action: 'exit',
      why: 'restart policy never',
    });
    // An exit still counts as a failed start when it came before up.
    assert.equal(decideEnd(died(0, 1), freshBook(), { ...policy, restart: 'never' }).book.failedStarts, 1);
  });

  test('N restarts within the window flap; the retries are counted; one too many gives up', () => {
    let book: RestartBook = freshBook();
    const actions: string[] = [];
    let now = 0;
    const step = (dt: number): void => {
      now += dt;
      const r = decideEnd(died(now), book, policy);
      book = r.book;
      actions.push(r.decision.action === 'flap' ? `flap${r.decision.flaps}` : r.decision.action);
    };
    step(0);
    step(1_000);
    step(1_000); // 3 restarts within 60 s: the third flaps
    assert.deepEqual(actions, ['restart', 'restart', 'flap1']);
    assert.deepEqual(book.restartsAt, [], 'the pause starts a fresh window');
    assert.equal(book.nextBackoffMs, 0, 'and a fresh backoff');
    step(300_000);
    step(1_000);
    step(1_000); // retried; flaps again
    step(300_000);
    step(1_000);
    step(1_000); // third flap within the hour: more than 2 retries
    assert.deepEqual(actions, ['restart', 'restart', 'flap1', 'restart', 'restart', 'flap2', 'restart', 'restart', 'give-up']);
  });

  test('restarts spread wider than the window never flap; flaps spread wider than the retry window never give up', () => {
    let book = freshBook();
    for (let i = 0; i < 20; i++) {
      const r = decideEnd(died(i * 31_000), book, policy);
      assert.equal(r.decision.action, 'restart');
      book = r.book;
    }
    book = { ...freshBook(), flapsAt: [0, 1_000] };
    const r = decideEnd(died(3_700_000), { ...book, restartsAt: [3_690_000, 3_695_000] }, policy);
    assert.deepEqual(r.decision, { action: 'flap', retryInMs: 300_000, flaps: 1 });
  });

  test('no flapping policy: restarts forever with the backoff', () => {
    let book = freshBook();
    for (let i = 0; i < 50; i++) {
      const r = decideEnd(died(i), book, { ...policy, flapping: null });
      assert.equal(r.decision.action, 'restart');
      book = r.book;
    }
    assert.equal(book.nextBackoffMs, 30_000);
  });

  test('condition restarts count toward flapping and restart at once', () => {
    let book = freshBook();
    const out: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = decideConditionRestart(book, i * 1_000, flapping);
      book = r.book;
      out.push(r.decision.action === 'restart' ? `restart:${r.decision.delayMs}` : r.decision.action);
    }
    assert.deepEqual(out, ['restart:0', 'restart:0', 'flap']);
  });
});
