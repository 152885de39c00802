/**
 * When the agent reports after a change (report-pacer.ts), on mocked timers and a hand clock: a
 * health transition goes on the next turn, ahead of a debounced report; ordinary changes wait
 * the debounce and a burst of them is one report; transitions of one turn are one report; a
 * report asked for while one is on its way follows it, once; past the budget a transition waits
 * the debounce.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportPacer, URGENT_BURST, UpTransitions } from './report-pacer.js';

const DEBOUNCE = 100;
let clock = 0;

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
  clock = 1_000_000;
});
afterEach(() => mock.timers.reset());

/** Moves the hand clock and the mocked timers together. */
function tick(ms: number): void {
  clock += ms;
  mock.timers.tick(ms);
}

/** Lets the promises of the sends settle (they are not timers). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function setUp(send?: () => Promise<void>) {
  const sent: number[] = [];
  const pacer = new ReportPacer({
    send:
      send ??
      (async () => {
        sent.push(clock);
      }),
    debounceMs: DEBOUNCE,
    now: () => clock,
  });
  return { pacer, sent };
}

test('a health transition is reported on the next turn, not after the debounce', async () => {
  const { pacer, sent } = setUp();
  const t0 = clock;
  pacer.change(true);
  tick(0);
  await settle();
  assert.deepEqual(sent, [t0], 'sent at once');
  tick(DEBOUNCE * 3);
  await settle();
  assert.equal(sent.length, 1, 'and only once');
});

test('a burst of ordinary changes is one report, after the debounce', async () => {
  const { pacer, sent } = setUp();
  const t0 = clock;
  for (let i = 0; i < 20; i++) {
    pacer.change(false);
    tick(4);
  }
  await settle();
  assert.deepEqual(sent, [], 'nothing before the debounce');
  tick(DEBOUNCE - 80);
  await settle();
  assert.deepEqual(sent, [t0 + DEBOUNCE]);
});

test('transitions of one turn are one report, and it takes the place of the debounced one waiting', async () => {
  const { pacer, sent } = setUp();
  pacer.change(false); // a process started: debounced
  tick(30);
  const t1 = clock;
  for (let i = 0; i < 10; i++) pacer.change(true); // ten processes turned healthy at once
  pacer.change(false);
  tick(0);
  await settle();
  assert.deepEqual(sent, [t1]);
  tick(DEBOUNCE * 2);
  await settle();
  assert.deepEqual(sent, [t1], 'the debounced report was the same report');
});

test('an ordinary change while a report is on its way follows it, once', async () => {
  let open: () => void = () => undefined;
  const sent: number[] = [];
  const { pacer } = setUp(async () => {
    sent.push(clock);
    if (sent.length === 1) await new Promise<void>((r) => (open = r));
  });
  pacer.change(false);
  tick(DEBOUNCE);
  await settle();
  assert.equal(sent.length, 1, 'the first on its way');
  pacer.change(false);
  tick(DEBOUNCE);
  pacer.change(false);
  tick(DEBOUNCE);
  await settle();
  assert.equal(sent.length, 1, 'nothing beside it');
  tick(5);
  const t1 = clock;
  open();
  await settle();
  assert.deepEqual(sent.slice(1), [t1], 'one report right after it, with all of them');
  tick(DEBOUNCE * 2);
  await settle();
  assert.equal(sent.length, 2);
});

test('a transition does not wait for a report on its way: it goes beside it, and a waiting one is not sent after', async () => {
  const opens: (() => void)[] = [];
  const sent: number[] = [];
  const { pacer } = setUp(async () => {
    sent.push(clock);
    await new Promise<void>((r) => opens.push(r));
  });
  pacer.change(false);
  tick(DEBOUNCE);
  await settle();
  assert.equal(sent.length, 1, 'an ordinary report on its way');
  pacer.change(false);
  tick(DEBOUNCE);
  await settle();
  assert.equal(sent.length, 1, 'an ordinary change waits for it');
  const t1 = clock;
  pacer.change(true);
  pacer.change(true); // the same turn: the same report
  tick(0);
  await settle();
  assert.deepEqual(sent, [t1 - DEBOUNCE, t1], 'the transition went at once, beside the first');
  for (const open of opens.splice(0)) open();
  await settle();
  tick(DEBOUNCE * 2);
  await settle();
  assert.equal(sent.length, 2, 'the waiting change was carried by the transition: nothing follows');
});

test('past the budget a transition waits the debounce; the budget refills', async () => {
  const { pacer, sent } = setUp();
  for (let i = 0; i < URGENT_BURST; i++) {
    pacer.change(true);
    tick(1);
    await settle();
  }
  assert.equal(sent.length, URGENT_BURST, 'each at once');
  const t0 = clock;
  pacer.change(true);
  await settle();
  assert.equal(sent.length, URGENT_BURST, 'the budget is spent: debounced');
  tick(DEBOUNCE);
  await settle();
  assert.deepEqual(sent.slice(URGENT_BURST), [t0 + DEBOUNCE]);
  tick(1000);
  pacer.change(true);
  tick(0);
  await settle();
  assert.equal(sent.length, URGENT_BURST + 2, 'a second later: at once again');
});

test('stopped: nothing more is sent', async () => {
  const { pacer, sent } = setUp();
  pacer.change(false);
  pacer.stop();
  pacer.change(true);
  tick(DEBOUNCE * 2);
  await settle();
  assert.deepEqual(sent, []);
});

test('UpTransitions: into up and out of it are transitions, other moves are not', () => {
  const moves = new UpTransitions();
  assert.deepEqual(
    ['starting', 'up', 'up', 'stopping', 'stopped', 'starting', 'backoff'].map((s) => moves.moved('web', s)),
    [false, true, false, true, false, false, false],
  );
  assert.equal(moves.moved('api', 'up'), true, 'per process');
});
