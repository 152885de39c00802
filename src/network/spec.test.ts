import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import {
  checkCidr,
  formatCidr,
  formatIpv4,
  gatewayOf,
  lowestFree,
  parseCidr,
  parseIpv4,
  subnetAt,
  subnetCount,
  subnetIndex,
} from './cidr.js';
import { capacityOf, checkSpec, planChange } from './spec.js';

test('CIDRs: parsed, formatted, cut into subnets, each with its index and gateway', () => {
  assert.equal(parseIpv4('198.18.0.1'), 198 * 2 ** 24 + 18 * 2 ** 16 + 1);
  assert.equal(formatIpv4(parseIpv4('198.19.255.254')!), '198.19.255.254');
  for (const bad of ['198.18.0', '198.18.0.256', '198.018.0.1', '1.2.3.4.5', 'a.b.c.d', '']) assert.equal(parseIpv4(bad), undefined, bad);
  const pool = parseCidr('198.18.0.0/16');
  assert.equal(subnetCount(pool, 24), 256);
  assert.equal(subnetCount(pool, 15), 0);
  assert.equal(formatCidr(subnetAt(pool, 24, 0)), '198.18.0.0/24');
  assert.equal(formatCidr(subnetAt(pool, 24, 255)), '198.18.255.0/24');
  assert.equal(formatCidr(subnetAt(pool, 26, 5)), '198.18.1.64/26');
  assert.equal(subnetIndex(pool, 24, parseCidr('198.18.7.0/24')), 7);
  assert.equal(subnetIndex(pool, 24, parseCidr('198.19.7.0/24')), undefined, 'outside the pool');
  assert.equal(subnetIndex(pool, 24, parseCidr('198.18.7.0/25')), undefined, 'another prefix');
  assert.equal(gatewayOf(parseCidr('198.18.3.0/24')), '198.18.3.1');
  assert.equal(checkCidr('198.18.0.0/15').toString(), '[object Object]');
  assert.match((checkCidr('198.18.0.1/16') as { error: string }).error, /did you mean 198\.18\.0\.0\/16/);
  assert.match((checkCidr('198.18.0.0/33') as { error: string }).error, /not a prefix length/);
  assert.match((checkCidr('198.18.0.0') as { error: string }).error, /not an IPv4 CIDR/);
});

test('the lowest free subnet is the next one given, whatever order the others were given in', () => {
  const pool = parseCidr('198.18.0.0/16');
  assert.equal(lowestFree(pool, 24, []), 0);
  assert.equal(lowestFree(pool, 24, [0, 1, 3]), 2);
  assert.equal(lowestFree(pool, 24, [3, 1, 0]), 2);
  assert.equal(lowestFree(parseCidr('198.18.0.0/23'), 24, [0, 1]), undefined, 'a full pool');
});

test('a spec is checked field by field, each refusal naming its flag', () => {
  assert.deepEqual(checkSpec({ pool: ' 198.18.0.0/15 ', perHost: 24 }), {
    pool: '198.18.0.0/15',
    perHost: 24,
    driver: 'bridge',
    parent: null,
  });
  assert.deepEqual(checkSpec({ pool: '198.18.0.0/16', perHost: 30, driver: 'macvlan', parent: 'eth0' }), {
    pool: '198.18.0.0/16',
    perHost: 30,
    driver: 'macvlan',
    parent: 'eth0',
  });
  const cases: [unknown, RegExp][] = [
    [null, /body/],
    [{ perHost: 24 }, /--pool: give the pool/],
    [{ pool: '198.18.0.0', perHost: 24 }, /--pool: .*not an IPv4 CIDR/],
    [{ pool: '198.18.0.300/16', perHost: 24 }, /--pool: .*not an IPv4 address/],
    [{ pool: '198.18.1.0/16', perHost: 24 }, /--pool: .*did you mean 198\.18\.0\.0\/16/],
    [{ pool: '127.0.0.0/16', perHost: 24 }, /--pool: .*loopback/],
    [{ pool: '0.0.0.0/0', perHost: 24 }, /--pool: .*overlaps/],
    [{ pool: '224.1.0.0/16', perHost: 24 }, /--pool: .*multicast/],
    [{ pool: '198.18.0.0/16', perHost: 16 }, /--per-host: \/16 must be longer than the pool's \/16/],
    [{ pool: '198.18.0.0/16', perHost: 31 }, /--per-host: .*at most \/30/],
    [{ pool: '198.18.0.0/16', perHost: '24' }, /--per-host: give the prefix length/],
    [{ pool: '198.18.0.0/16', perHost: 24.5 }, /--per-host/],
    [{ pool: '198.18.0.0/16', perHost: 24, driver: 'overlay' }, /--driver: a driver is one of bridge, macvlan/],
    [{ pool: '198.18.0.0/16', perHost: 24, driver: 'macvlan' }, /--parent: the macvlan driver needs --parent/],
    [{ pool: '198.18.0.0/16', perHost: 24, parent: 'eth0' }, /--parent: the bridge driver takes no --parent/],
    [{ pool: '198.18.0.0/16', perHost: 24, driver: 'macvlan', parent: 'eth0 up' }, /--parent: .*not an interface name/],
    [{ pool: '198.18.0.0/16', perHost: 24, driver: 'macvlan', parent: 'a-very-long-interface' }, /--parent/],
    [{ pool: '198.18.0.0/16', perHost: 24, gateway: '198.18.0.1' }, /unknown field "gateway"/],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => checkSpec(body),
      (err: unknown) => err instanceof NoopsError && err.code === 'NOOPS_E_NETWORK_INVALID' && message.test(err.message),
      JSON.stringify(body),
    );
  }
  assert.equal(capacityOf({ pool: '198.18.0.0/15', perHost: 24 }), 512);
});

const OLD = { pool: '198.18.0.0/16', perHost: 24, driver: 'bridge' as const, parent: null };
const GIVEN = [
  { host: 'h1', subnet: '198.18.0.0/24' },
  { host: 'h2', subnet: '198.18.1.0/24' },
];

test('a change of pool keeps the subnets still in it and drops the others', () => {
  assert.deepEqual(planChange(undefined, OLD, [], []), { keep: [], drop: [], remake: false });
  assert.deepEqual(
    planChange(OLD, { ...OLD, pool: '198.18.0.0/15' }, GIVEN, ['h1', 'h2']),
    { keep: ['h1', 'h2'], drop: [], remake: false },
    'a wider pool',
  );
  assert.deepEqual(
    planChange(OLD, { ...OLD, pool: '198.19.0.0/16' }, GIVEN, []),
    { keep: [], drop: ['h1', 'h2'], remake: false },
    'no container runs',
  );
  assert.deepEqual(planChange(OLD, { ...OLD, pool: '198.18.1.0/24', perHost: 24 }, GIVEN, ['h2']).drop, ['h1']);
  assert.deepEqual(planChange(OLD, { ...OLD, perHost: 25 }, GIVEN, []).drop, ['h1', 'h2'], 'another prefix moves every subnet');
});

test('a change that would move a running container is refused, naming its hosts', () => {
  const refused = (fn: () => unknown, message: RegExp): void =>
    assert.throws(fn, (err: unknown) => err instanceof NoopsError && err.code === 'NOOPS_E_NETWORK_IN_USE' && message.test(err.message));
  refused(() => planChange(OLD, { ...OLD, pool: '198.19.0.0/16' }, GIVEN, ['h2', 'h9']), /not in the new pool, and containers run on h2:/);
  refused(
    () => planChange(OLD, { ...OLD, driver: 'macvlan', parent: 'eth0' }, GIVEN, ['h1']),
    /another driver remakes every host's network.*h1/,
  );
  refused(
    () => planChange({ ...OLD, driver: 'macvlan', parent: 'eth0' }, { ...OLD, driver: 'macvlan', parent: 'eth1' }, GIVEN, ['h1']),
    /another parent/,
  );
});
