import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../../errors/index.js';
import { describeSchedule, scheduleOf, usedOfOffered } from './schedule-flags.js';

const G = 1024 ** 3;

test('the flags give a spec with --count, nothing without any, and refuse --hosts with --count or a key without --count', () => {
  assert.equal(scheduleOf({ hosts: 'a,b' }), undefined);
  assert.deepEqual(scheduleOf({ count: '6', cpu: '0.5', memory: '1G', constraint: ['rack!=r3'], distinctHosts: true, spread: 'rack' }), {
    count: 6,
    cpu: 0.5,
    memory: G,
    constraints: [{ label: 'rack', op: '!=', value: 'r3' }],
    distinctHosts: true,
    spread: 'rack',
  });
  const refused = (o: Parameters<typeof scheduleOf>[0], re: RegExp): void =>
    assert.throws(
      () => scheduleOf(o),
      (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_INPUT' && re.test(e.message),
    );
  refused({ count: '2', hosts: 'a' }, /give --hosts or --count, not both/);
  refused({ memory: '1G' }, /--memory places a scheduled cluster: give --count N with it/);
  refused({ count: '2', spread: 'rack', binpack: true }, /--spread: spread over rack or bin-pack/);
  refused({ count: 'many' }, /--count/);
});

test('a spec and a host read as people write them', () => {
  assert.equal(
    describeSchedule({
      count: 6,
      cpu: 0.5,
      memory: 256 * 1024 ** 2,
      constraints: [{ label: 'rack', op: '!=', value: 'r3' }],
      distinctHosts: true,
      spread: 'rack',
    }),
    'count 6, cpu 0.5, memory 256M, constraint rack!=r3, distinct hosts, spread over rack',
  );
  assert.equal(describeSchedule({ count: 0, cpu: 0, memory: 0, constraints: [], distinctHosts: false, spread: null }), 'count 0, binpack');
  const h = { capacity: { cpu: 4, memory: 8 * G, disk: 0, freePorts: 0 }, allocated: { cpu: 1.5, memory: 2.5 * G, disk: 0 } };
  assert.equal(usedOfOffered(h, 'cpu'), '1.5/4');
  assert.equal(usedOfOffered(h, 'memory'), '2.5G/8G');
  assert.equal(usedOfOffered({}, 'cpu'), '-', 'before the host reported what it offers');
});
