import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import {
  ancestorsAndSelf,
  canonicalTag,
  formatTag,
  isCanonicalTag,
  isComplete,
  isUnder,
  levelOf,
  parentOf,
  parseTag,
  truncateTo,
  valueOf,
  withPair,
} from './index.js';

const FULL = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.production-sd';

/** Asserts that `fn` throws a NoopsError with exactly this code and message. */
function throwsNoops(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NoopsError);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

test('the seed leaf-first tag canonicalizes to tree order', () => {
  assert.equal(
    canonicalTag('job.deploy-test_service.deploy-test_cluster.production-sd_pdl.com_owt.miliao_cop.xiaomi'),
    'cop.xiaomi_owt.miliao_pdl.com_service.deploy-test_job.deploy-test_cluster.production-sd',
  );
});

test('parseTag trims, orders pairs, and keeps a canonical tag unchanged', () => {
  assert.deepEqual(parseTag('  owt.miliao_cop.xiaomi \n').pairs, [
    { key: 'cop', value: 'xiaomi' },
    { key: 'owt', value: 'miliao' },
  ]);
  assert.equal(canonicalTag(FULL), FULL);
});

test('values may use digits and "-" and be 63 characters long', () => {
  const long = 'a'.repeat(63);
  assert.equal(canonicalTag(`cop.x1_owt.a-b-9_pdl.${long}`), `cop.x1_owt.a-b-9_pdl.${long}`);
});

test('formatTag prints in tree order whatever the order of the pairs', () => {
  assert.equal(
    formatTag({
      pairs: [
        { key: 'owt', value: 'miliao' },
        { key: 'cop', value: 'xiaomi' },
      ],
    }),
    'cop.xiaomi_owt.miliao',
  );
});

test('a tag is complete when it has every required level down to its deepest', () => {
  assert.equal(isComplete(parseTag('cop.xiaomi_owt.miliao_pdl.im_service.ack')), true);
  assert.equal(isComplete(parseTag(FULL)), true);
  assert.equal(isComplete(parseTag('cop.xiaomi')), true);
  assert.equal(isComplete(parseTag('service.ack')), false);
  assert.equal(isComplete(parseTag('job.deploy_service.test')), false);
  assert.equal(isComplete(parseTag('cop.xiaomi_pdl.im')), false);
  assert.equal(isComplete(parseTag('cop.x_owt.y_pdl.z_job.j')), false);
});

test('servicegroup and jobgroup may be skipped or given', () => {
  assert.equal(isComplete(parseTag('cop.x_owt.y_pdl.z_service.s_job.j_cluster.c')), true);
  assert.equal(isComplete(parseTag('cop.x_owt.y_pdl.z_servicegroup.g_service.s_jobgroup.h_job.j')), true);
  assert.equal(isComplete(parseTag('cop.x_owt.y_pdl.z_servicegroup.g')), true);
  assert.equal(isComplete(parseTag('cop.x_owt.y_pdl.z_jobgroup.h')), false);
  assert.equal(
    canonicalTag('job.j_jobgroup.h_service.s_servicegroup.g_pdl.z_owt.y_cop.x'),
    'cop.x_owt.y_pdl.z_servicegroup.g_service.s_jobgroup.h_job.j',
  );
});

test('levelOf, valueOf, parentOf', () => {
  const tag = parseTag(FULL);
  assert.equal(levelOf(tag), 'cluster');
  assert.equal(levelOf(parseTag('job.api_service.ack')), 'job');
  assert.equal(valueOf(tag, 'owt'), 'miliao');
  assert.equal(valueOf(tag, 'servicegroup'), undefined);
  assert.equal(formatTag(parentOf(tag)!), 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api');
  assert.equal(parentOf(parseTag('cop.xiaomi')), null);
});

test('ancestorsAndSelf lists the path root first', () => {
  assert.deepEqual(ancestorsAndSelf(parseTag('pdl.im_cop.xiaomi_owt.miliao')).map(formatTag), [
    'cop.xiaomi',
    'cop.xiaomi_owt.miliao',
    'cop.xiaomi_owt.miliao_pdl.im',
  ]);
});

test('truncateTo gives the prefix ending at a level, or null', () => {
  assert.equal(formatTag(truncateTo(parseTag(FULL), 'job')!), 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api');
  assert.equal(formatTag(truncateTo(parseTag(FULL), 'cop')!), 'cop.xiaomi');
  assert.equal(truncateTo(parseTag(FULL), 'jobgroup'), null);
});

test('withPair adds a pair in tree order, or replaces one', () => {
  const job = parseTag('cop.x_owt.y_pdl.z_service.s_job.j');
  assert.equal(formatTag(withPair(job, 'cluster', 'prod')), 'cop.x_owt.y_pdl.z_service.s_job.j_cluster.prod');
  assert.equal(formatTag(withPair(job, 'servicegroup', 'g')), 'cop.x_owt.y_pdl.z_servicegroup.g_service.s_job.j');
  assert.equal(formatTag(withPair(job, 'service', 't')), 'cop.x_owt.y_pdl.z_service.t_job.j');
  throwsNoops(
    () => withPair(job, 'cluster', 'Prod'),
    'NOOPS_E_TAG_INVALID',
    '"cluster.Prod": cannot add it to cop.x_owt.y_pdl.z_service.s_job.j: ' +
      'value "Prod" of cluster has upper-case letters; values are lower-case letters, digits and "-"',
  );
});

test('isUnder compares pair by pair, not as strings', () => {
  assert.equal(isUnder('cop.x_owt.y_pdl.z', 'cop.x_owt.y'), true);
  assert.equal(isUnder('cop.x_owt.y', 'cop.x_owt.y'), true);
  assert.equal(isUnder('owt.y_cop.x', 'cop.x'), true);
  assert.equal(isUnder('cop.ab', 'cop.a'), false);
  assert.equal(isUnder('cop.a_owt.bc', 'cop.a_owt.b'), false);
  assert.equal(isUnder('cop.x', 'cop.x_owt.y'), false);
  assert.equal(isUnder('cop.x_owt.y_pdl.z_service.s', 'cop.x_owt.y_pdl.z_servicegroup.g'), false);
});

test('invalid tags say what is wrong and how to fix it', () => {
  const cases: Array<[string, string]> = [
    ['', '"": the tag is empty; give key.value pairs joined by "_", e.g. cop.xiaomi_owt.miliao'],
    ['   ', '"": the tag is empty; give key.value pairs joined by "_", e.g. cop.xiaomi_owt.miliao'],
    [
      'cop.xiaomi_team.im',
      '"cop.xiaomi_team.im": unknown key "team"; keys are cop, owt, pdl, servicegroup, service, jobgroup, job, cluster',
    ],
    ['COP.xiaomi', '"COP.xiaomi": key "COP" has upper-case letters; keys are lower-case: write cop'],
    ['cop.a_owt.b_cop.c', '"cop.a_owt.b_cop.c": key "cop" appears twice (cop.a and cop.c); give each key once'],
    [
      'cop.xiaomi_owt.Miliao',
      '"cop.xiaomi_owt.Miliao": value "Miliao" of owt has upper-case letters; values are lower-case letters, digits and "-"',
    ],
    [
      'cop.xiaomi_owt.mi_liao',
      '"cop.xiaomi_owt.mi_liao": pair "liao" has no "."; values cannot contain "_", ' +
        'so "owt.mi_liao" reads as two pairs: use "-" instead of "_"',
    ],
    [
      'cop.xiaomi.com',
      '"cop.xiaomi.com": value "xiaomi.com" of cop contains "."; values are lower-case letters, digits and "-" (use "-" instead of ".")',
    ],
    ['cop.xiaomi_owt.', '"cop.xiaomi_owt.": key "owt" has an empty value; give a value, e.g. owt.<owner-team>'],
    ['cop.xiaomi_owt', '"cop.xiaomi_owt": pair "owt" has no value; write it as owt.<owner-team>'],
    ['xiaomi', '"xiaomi": pair "xiaomi" has no "."; write each pair as key.value, e.g. cop.xiaomi'],
    ['.xiaomi', '".xiaomi": a pair has no key; write each pair as key.value, e.g. cop.xiaomi'],
    ['cop.xiaomi__owt.miliao', '"cop.xiaomi__owt.miliao": pair 2 is empty; join pairs with a single "_", with none at the start or end'],
    ['cop.xiaomi_', '"cop.xiaomi_": pair 2 is empty; join pairs with a single "_", with none at the start or end'],
    ['cop.xiao mi', '"cop.xiao mi": value "xiao mi" of cop contains " "; values are lower-case letters, digits and "-"'],
    [
      `cop.${'a'.repeat(64)}`,
      `"cop.${'a'.repeat(64)}": value "${'a'.repeat(64)}" of cop is 64 characters long; values are at most 63 characters`,
    ],
  ];
  for (const [input, message] of cases) throwsNoops(() => parseTag(input), 'NOOPS_E_TAG_INVALID', message);
});

test('isUnder rejects an invalid tag rather than guessing', () => {
  throwsNoops(
    () => isUnder('cop.A', 'cop.a'),
    'NOOPS_E_TAG_INVALID',
    '"cop.A": value "A" of cop has upper-case letters; values are lower-case letters, digits and "-"',
  );
});

test('isCanonicalTag: a tag in the form the server stores, nothing else', () => {
  assert.equal(isCanonicalTag('cop.xiaomi_owt.miliao'), true);
  assert.equal(isCanonicalTag('owt.miliao_cop.xiaomi'), false, 'another key order');
  assert.equal(isCanonicalTag('Not A Tag!'), false);
  assert.equal(isCanonicalTag(''), false);
});
