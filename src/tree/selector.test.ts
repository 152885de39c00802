import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import { formatSelector, matches, parseSelector, parseTag } from './index.js';

const TAG = 'cop.xiaomi_owt.miliao_pdl.account_service.login_job.api_cluster.production-sd';

function throwsNoops(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NoopsError);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

test('parseSelector keeps the pairs in tree order and ignores spaces', () => {
  assert.deepEqual(parseSelector(' pdl = account , cop=xiaomi,owt=miliao ').pairs, [
    { key: 'cop', value: 'xiaomi' },
    { key: 'owt', value: 'miliao' },
    { key: 'pdl', value: 'account' },
  ]);
  assert.equal(formatSelector(parseSelector(' pdl = account , cop=xiaomi,owt=miliao ')), 'cop=xiaomi,owt=miliao,pdl=account');
});

test('a selector matches every tag that has all its pairs', () => {
  const selector = parseSelector('cop=xiaomi,owt=miliao,pdl=account');
  assert.equal(matches(selector, TAG), true);
  assert.equal(matches(selector, 'cop.xiaomi_owt.miliao_pdl.account'), true);
  assert.equal(matches(selector, 'job.api_pdl.account_owt.miliao_cop.xiaomi'), true);
  assert.equal(matches(selector, parseTag(TAG)), true);
  assert.equal(matches(selector, 'cop.xiaomi_owt.miliao'), false);
  assert.equal(matches(selector, 'cop.xiaomi_owt.miliao_pdl.im'), false);
  assert.equal(matches(selector, 'cop.xiaomi_owt.miliao_pdl.accounts'), false);
});

test('a selector on a deep level matches without the levels above', () => {
  assert.equal(matches(parseSelector('cluster=production-sd'), TAG), true);
  assert.equal(matches(parseSelector('cluster=production-sd'), 'cop.xiaomi'), false);
  assert.equal(matches(parseSelector('job=api,service=login'), TAG), true);
});

test('the empty selector matches everything', () => {
  assert.deepEqual(parseSelector('').pairs, []);
  assert.deepEqual(parseSelector('   ').pairs, []);
  assert.equal(matches(parseSelector(''), TAG), true);
  assert.equal(matches(parseSelector(''), 'cop.x'), true);
  assert.equal(formatSelector(parseSelector('')), '');
});

test('matches rejects an invalid tag string', () => {
  assert.throws(() => matches(parseSelector(''), 'cop.X'), { code: 'NOOPS_E_TAG_INVALID' });
});

test('invalid selectors say what is wrong and how to fix it', () => {
  const rule = 'values are lower-case letters, digits and "-"';
  const cases: Array<[string, string]> = [
    ['team=im', '"team=im": unknown key "team"; keys are cop, owt, pdl, servicegroup, service, jobgroup, job, cluster'],
    ['cop=a,cop=b', '"cop=a,cop=b": key "cop" appears twice (cop=a and cop=b); give each key once'],
    ['owt=Miliao', `"owt=Miliao": value "Miliao" of owt has upper-case letters; ${rule}`],
    ['owt=mi_liao', `"owt=mi_liao": value "mi_liao" of owt contains "_"; ${rule} (use "-" instead of "_")`],
    ['cop=xiaomi.com', `"cop=xiaomi.com": value "xiaomi.com" of cop contains "."; ${rule} (use "-" instead of ".")`],
    ['cop=a=b', `"cop=a=b": value "a=b" of cop contains "="; ${rule}`],
    ['cop=', '"cop=": key "cop" has an empty value; give a value, e.g. cop=<company>'],
    ['=xiaomi', '"=xiaomi": a pair has no key; write each pair as key=value, e.g. cop=xiaomi'],
    ['cop', '"cop": pair "cop" has no "="; write each pair as key=value, e.g. cop=xiaomi'],
    [
      'cop.xiaomi_owt.miliao',
      '"cop.xiaomi_owt.miliao": pair "cop.xiaomi_owt.miliao" has no "="; write each pair as key=value, e.g. cop=xiaomi ' +
        '(selectors use "=" where tags use ".", and "," where tags use "_")',
    ],
    ['cop=x,,owt=y', '"cop=x,,owt=y": pair 2 is empty; join pairs with a single ",", with none at the start or end'],
    ['cop=x,', '"cop=x,": pair 2 is empty; join pairs with a single ",", with none at the start or end'],
  ];
  for (const [input, message] of cases) throwsNoops(() => parseSelector(input), 'NOOPS_E_SELECTOR_INVALID', message);
});
