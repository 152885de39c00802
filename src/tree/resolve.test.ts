import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import { resolveTag } from './index.js';

const NODES = [
  'cop.xiaomi_owt.miliao_pdl.im_service.test_job.deploy_cluster.production-sd',
  'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.production-sd',
  'cop.xiaomi_owt.miliao_pdl.account_service.ack_job.api',
  'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.deploy',
];

function throwsNoops(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NoopsError);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

test('a complete tag resolves to its canonical form, created when it is new', () => {
  assert.deepEqual(resolveTag('job.new_service.ack_pdl.im_owt.miliao_cop.xiaomi', NODES), {
    tag: 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.new',
    created: true,
  });
  assert.deepEqual(resolveTag('cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api', NODES), {
    tag: 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api',
    created: false,
  });
});

test('the ancestors of existing nodes exist too', () => {
  assert.deepEqual(resolveTag('cop.xiaomi_owt.miliao', NODES), { tag: 'cop.xiaomi_owt.miliao', created: false });
});

test('existing tags may be in any key order', () => {
  assert.deepEqual(resolveTag('job.x', ['job.x_service.s_pdl.p_owt.o_cop.c']), {
    tag: 'cop.c_owt.o_pdl.p_service.s_job.x',
    created: false,
  });
});

test('a partial tag resolves to the one node it names', () => {
  assert.deepEqual(resolveTag('job.deploy_service.test', NODES), {
    tag: 'cop.xiaomi_owt.miliao_pdl.im_service.test_job.deploy',
    created: false,
  });
  assert.deepEqual(resolveTag('pdl.account', NODES), { tag: 'cop.xiaomi_owt.miliao_pdl.account', created: false });
  assert.deepEqual(resolveTag(' service.ack_pdl.account ', NODES), {
    tag: 'cop.xiaomi_owt.miliao_pdl.account_service.ack',
    created: false,
  });
});

test('a partial tag names a node at its deepest level only', () => {
  // service.test has a job and a cluster below it, but only one service node.
  assert.deepEqual(resolveTag('service.test', NODES), {
    tag: 'cop.xiaomi_owt.miliao_pdl.im_service.test',
    created: false,
  });
});

test('an ambiguous partial tag lists the candidates and what tells them apart', () => {
  throwsNoops(
    () => resolveTag('service.ack', NODES),
    'NOOPS_E_TAG_AMBIGUOUS',
    '"service.ack": 2 service nodes have service.ack: ' +
      'cop.xiaomi_owt.miliao_pdl.account_service.ack, cop.xiaomi_owt.miliao_pdl.im_service.ack; ' +
      'give more of the tag so that it names one (they differ in pdl)',
  );
  throwsNoops(
    () => resolveTag('job.deploy', NODES),
    'NOOPS_E_TAG_AMBIGUOUS',
    '"job.deploy": 2 job nodes have job.deploy: ' +
      'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.deploy, cop.xiaomi_owt.miliao_pdl.im_service.test_job.deploy; ' +
      'give more of the tag so that it names one (they differ in service)',
  );
});

test('an ambiguity message lists at most ten candidates', () => {
  const nodes = Array.from({ length: 12 }, (_, i) => `cop.c${String(i).padStart(2, '0')}_owt.o_pdl.p_service.s`);
  const shown = nodes.slice(0, 10).join(', ');
  throwsNoops(
    () => resolveTag('service.s', nodes),
    'NOOPS_E_TAG_AMBIGUOUS',
    `"service.s": 12 service nodes have service.s: ${shown} and 2 more; give more of the tag so that it names one (they differ in cop)`,
  );
});

test('an unknown partial tag says that a complete tag creates it', () => {
  throwsNoops(
    () => resolveTag('job.api_service.nope', NODES),
    'NOOPS_E_TAG_UNKNOWN',
    '"job.api_service.nope": no job node has service.nope_job.api; ' +
      'to create it, give the complete tag from cop down, e.g. cop.<company>_owt.<owner-team>_pdl.<product-line>_service.nope_job.api',
  );
  throwsNoops(
    () => resolveTag('owt.miliao', []),
    'NOOPS_E_TAG_UNKNOWN',
    '"owt.miliao": no owt node has owt.miliao; to create it, give the complete tag from cop down, e.g. cop.<company>_owt.miliao',
  );
});

test('resolveTag rejects an invalid tag', () => {
  assert.throws(() => resolveTag('service.Ack', NODES), { code: 'NOOPS_E_TAG_INVALID' });
});
