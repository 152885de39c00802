import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBatches } from './plan.js';
import { amountOf, parseDuration, parsePolicy, resolvePolicy, toleratedFailures } from './deploy-policy.js';

const hosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `h${i + 1}`);

test('batches follow the sizes in order, the last repeating, percentages of the whole cluster rounded up', () => {
  assert.deepEqual(planBatches(hosts(5), [1, '50%']), [['h1'], ['h2', 'h3', 'h4'], ['h5']]);
  assert.deepEqual(planBatches(hosts(4), [1, '100%']), [['h1'], ['h2', 'h3', 'h4']]);
  assert.deepEqual(planBatches(hosts(4), ['100%']), [['h1', 'h2', 'h3', 'h4']]);
  assert.deepEqual(planBatches(hosts(4), [2]), [
    ['h1', 'h2'],
    ['h3', 'h4'],
  ]);
  assert.deepEqual(planBatches(hosts(20), [1, '10%', '50%']), [['h1'], ['h2', 'h3'], hosts(13).slice(3), hosts(20).slice(13)]);
  assert.deepEqual(planBatches(hosts(3), ['1%']), [['h1'], ['h2'], ['h3']], 'a percentage is at least one host');
  assert.deepEqual(planBatches(['solo'], [1, '100%']), [['solo']]);
  assert.deepEqual(planBatches([], [1]), []);
});

test('canary hosts are the first batch and stand for the first size', () => {
  assert.deepEqual(planBatches(hosts(4), [1, '100%'], ['h3']), [['h3'], ['h1', 'h2', 'h4']]);
  assert.deepEqual(planBatches(hosts(4), [1], ['h4', 'h2']), [['h4', 'h2'], ['h1'], ['h3']]);
  assert.deepEqual(planBatches(hosts(2), ['50%'], ['h1', 'h2']), [['h1', 'h2']]);
  assert.throws(() => planBatches(hosts(2), [1], ['h9']), {
    code: 'NOOPS_E_INPUT',
    message: 'canary host(s) h9 are not in the cluster (its hosts: h1, h2)',
  });
});

test('durations: seconds as numbers or with a unit', () => {
  assert.deepEqual(['90', '90s', '1.5m', '2h', '500ms', 0, 12, 'x', '-1', '5d', -3].map(parseDuration), [
    90,
    90,
    90,
    7200,
    0.5,
    0,
    12,
    null,
    null,
    null,
    null,
  ]);
});

test('policy keys parse into numbers and lists, and bad ones name the key', () => {
  assert.deepEqual(
    parsePolicy(
      {
        batch: '1, 10%,50%',
        pause: '30s',
        healthy_for: 2,
        timeout: '5m',
        max_failures: '10%',
        on_failure: 'stop',
        canary: true,
        canary_wait: '1m',
      },
      'deploy',
    ),
    {
      batch: [1, '10%', '50%'],
      pause: 30,
      healthy_for: 2,
      timeout: 300,
      max_failures: '10%',
      on_failure: 'stop',
      canary: true,
      canary_wait: 60,
    },
  );
  assert.deepEqual(parsePolicy({ batch: 3 }, 'x'), { batch: [3] });
  assert.deepEqual(parsePolicy({ batch: [1, '25%'] }, 'x'), { batch: [1, '25%'] });
  assert.throws(() => parsePolicy({ batch: '0' }, 'deploy'), {
    code: 'NOOPS_E_INPUT',
    message: 'deploy: policy batch: "0" is not a batch size: give host counts or percentages, e.g. 2, 25% or "1, 10%, 50%"',
  });
  assert.throws(() => parsePolicy({ batch: '150%' }, 'deploy'), { message: /policy batch: "150%" is not a batch size/ });
  assert.throws(() => parsePolicy({ pause: 'soon' }, 'deploy'), {
    message: 'deploy: policy pause: "soon" is not a duration of at most a day (e.g. 30, 30s, 5m, 1h)',
  });
  assert.throws(() => parsePolicy({ on_failure: 'panic' }, 'deploy'), {
    message: 'deploy: policy on_failure: on_failure is "stop" or "rollback"',
  });
  assert.throws(() => parsePolicy({ batches: 2 }, 'deploy'), { message: /^deploy: unknown policy key "batches" \(known: batch, pause,/ });
});

test('the policy in force: defaults, then the cluster, then the deploy', () => {
  assert.deepEqual(resolvePolicy(), {
    batch: [1, '100%'],
    pause: 0,
    healthy_for: 0,
    timeout: 300,
    max_failures: 0,
    on_failure: 'rollback',
    canary: false,
    canary_wait: null,
    test_timeout: 300,
  });
  const p = resolvePolicy({ batch: [2], pause: 10 }, { pause: 0, canary: true }, undefined);
  assert.deepEqual([p.batch, p.pause, p.canary], [[2], 0, true]);
});

test('percentages round up for sizes and down for tolerances', () => {
  assert.equal(amountOf('10%', 15, 'up'), 2);
  assert.equal(amountOf('10%', 15, 'down'), 1);
  assert.equal(amountOf('50%', 4, 'up'), 2);
  assert.equal(toleratedFailures(resolvePolicy({ max_failures: '25%' }), 4), 1);
  assert.equal(toleratedFailures(resolvePolicy({ max_failures: '20%' }), 4), 0);
  assert.equal(toleratedFailures(resolvePolicy({ max_failures: 2 }), 4), 2);
});
