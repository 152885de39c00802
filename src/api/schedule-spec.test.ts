import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import {
  checkScheduleSpec,
  formatConstraint,
  formatSize,
  parseCapacityOverride,
  parseConstraint,
  parseScheduleSpec,
  parseSize,
} from './schedule-spec.js';

const M = 1024 ** 2;
const G = 1024 ** 3;

/** Asserts `fn` throws NOOPS_E_INPUT whose message matches `re`. */
function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NoopsError);
    assert.equal(e.code, 'NOOPS_E_INPUT');
    assert.match(e.message, re);
    assert.ok(e.hint.length > 0);
    return true;
  });
}

describe('parseSize and formatSize', () => {
  it('reads sizes in powers of 1024, with or without B/iB, any case; a bare number is bytes', () => {
    assert.equal(parseSize('256M'), 256 * M);
    assert.equal(parseSize('8G'), 8 * G);
    assert.equal(parseSize('1.5G'), 1.5 * G);
    assert.equal(parseSize('100G'), 100 * G);
    assert.equal(parseSize('1.5T'), 1.5 * 1024 * G);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('256MiB'), 256 * M);
    assert.equal(parseSize('256mb'), 256 * M);
    assert.equal(parseSize(' 4096 '), 4096);
    assert.equal(parseSize('10B'), 10);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('0'), 0);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'M', '-1G', '1.5.5G', '8X', '8 GB extra', '1e3', 'iB', '10iB', Number.NaN, -1, null, true, {}]) {
      assert.equal(parseSize(bad), undefined, String(bad));
    }
    assert.equal(parseSize('1.5'), 2, 'a bare number is bytes (rounded)');
    assert.equal(parseSize('99999999P'), undefined, 'past 2^53');
  });

  it('formats in the largest unit, one decimal at most, and reads back', () => {
    assert.equal(formatSize(256 * M), '256M');
    assert.equal(formatSize(8 * G), '8G');
    assert.equal(formatSize(1.5 * G), '1.5G');
    assert.equal(formatSize(512), '512');
    assert.equal(formatSize(0), '0');
    assert.equal(formatSize(1024 ** 4), '1T');
    for (const n of [0, 1, 1023, 1024, 256 * M, 1.5 * G, 100 * G, 3 * 1024 ** 4]) assert.equal(parseSize(formatSize(n)), n);
  });
});

describe('parseScheduleSpec', () => {
  it('reads flags as typed: count, cores, a size, constraints, distinct hosts, spread', () => {
    assert.deepEqual(
      parseScheduleSpec({
        count: '6',
        cpu: '0.5',
        memory: '256M',
        constraints: ['rack!=r3', 'zone = a'],
        distinctHosts: true,
        spread: 'rack',
      }),
      {
        count: 6,
        cpu: 0.5,
        memory: 256 * M,
        constraints: [
          { label: 'rack', op: '!=', value: 'r3' },
          { label: 'zone', op: '=', value: 'a' },
        ],
        distinctHosts: true,
        spread: 'rack',
      },
    );
  });

  it('defaults: asks nothing, no constraints, bin-pack; count 0 is allowed', () => {
    assert.deepEqual(parseScheduleSpec({ count: 0 }), { count: 0, cpu: 0, memory: 0, constraints: [], distinctHosts: false, spread: null });
    assert.equal(parseScheduleSpec({ count: 3, binpack: true }).spread, null);
  });

  it('takes a body as the route gets it (numbers, constraint objects, one constraint text), duplicates once', () => {
    const spec = parseScheduleSpec({
      count: 2,
      cpu: 1,
      memory: 1024,
      constraints: [{ label: 'rack', op: '!=', value: 'r3' }, 'rack!=r3'],
      spread: null,
    });
    assert.deepEqual(spec.constraints, [{ label: 'rack', op: '!=', value: 'r3' }]);
    assert.deepEqual(parseScheduleSpec({ count: 1, constraints: 'os=linux' }).constraints, [{ label: 'os', op: '=', value: 'linux' }]);
  });

  it('refuses each bad key, naming its flag', () => {
    refuses(() => parseScheduleSpec({ count: undefined }, 'cluster set'), /^cluster set: --count: give a count/);
    refuses(() => parseScheduleSpec({ count: -1 }), /--count: "-1" is not a whole number/);
    refuses(() => parseScheduleSpec({ count: '2.5' }), /--count/);
    refuses(() => parseScheduleSpec({ count: 2_000_000 }), /--count/);
    refuses(() => parseScheduleSpec({ count: 1, cpu: '-0.5' }), /--cpu: "-0.5" is not a number of cores/);
    refuses(() => parseScheduleSpec({ count: 1, cpu: 'lots' }), /--cpu/);
    refuses(() => parseScheduleSpec({ count: 1, memory: '256X' }), /--memory: "256X" is not a size: .*256M/);
    refuses(
      () => parseScheduleSpec({ count: 1, constraints: ['rack'] }),
      /--constraint: "rack" is not a constraint: LABEL=VALUE or LABEL!=VALUE/,
    );
    refuses(() => parseScheduleSpec({ count: 1, constraints: ['rack!='] }), /--constraint/);
    refuses(() => parseScheduleSpec({ count: 1, constraints: [{ label: 'rack', op: '<', value: 'a' }] }), /op is "=" or "!="/);
    refuses(
      () => parseScheduleSpec({ count: 1, spread: 'rack', binpack: true }),
      /--spread: spread over rack or bin-pack: give one, not both/,
    );
    refuses(() => parseScheduleSpec({ count: 1, spread: 'no spaces' }), /--spread: "no spaces" is not a host label/);
    refuses(() => parseScheduleSpec({ count: 1, distinctHosts: 'yes' }), /--distinct-hosts/);
  });

  it('checkScheduleSpec answers the bad key without throwing', () => {
    assert.deepEqual(checkScheduleSpec({ count: 1, memory: 'x' }), {
      ok: false,
      key: 'memory',
      message: '"x" is not a size: bytes, or a number with K, M, G or T (powers of 1024), e.g. 256M, 8G, 1.5G',
    });
  });
});

describe('constraints', () => {
  it('parse and format round trip', () => {
    for (const text of ['rack!=r3', 'zone=a', 'os=linux', 'team/x=a b']) {
      const c = parseConstraint(text);
      assert.notEqual(typeof c, 'string', text);
      assert.equal(formatConstraint(c as Exclude<typeof c, string>), text);
    }
    assert.equal(typeof parseConstraint('=a'), 'string');
  });
});

describe('parseCapacityOverride', () => {
  it('reads each named key; the rest stays measured', () => {
    assert.deepEqual(parseCapacityOverride('cpu=4,memory=8G,disk=100G'), { cpu: 4, memory: 8 * G, disk: 100 * G });
    assert.deepEqual(parseCapacityOverride('cpu=0.5'), { cpu: 0.5 });
    assert.deepEqual(parseCapacityOverride(' memory = 1.5G , ports=200 '), { memory: 1.5 * G, freePorts: 200 });
  });

  it('refuses an unknown key, a key twice, a bad value, nothing', () => {
    refuses(() => parseCapacityOverride('gpu=1'), /unknown key "gpu"/);
    refuses(() => parseCapacityOverride('cpu=1,cpu=2'), /cpu is given twice/);
    refuses(() => parseCapacityOverride('cpu=-1'), /cpu=-1 is not a number of cores/);
    refuses(() => parseCapacityOverride('memory=8X'), /memory=8X is not a size/);
    refuses(() => parseCapacityOverride('disk'), /disk has no value/);
    refuses(() => parseCapacityOverride('ports=1.5'), /ports=1.5 is not a whole number/);
    refuses(() => parseCapacityOverride(''), /name at least one/);
  });
});
