import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, NoopsError, isErrorCode } from './index.js';

test("NoopsError: the code's status and default hint, unless the throw site gives its own hint", () => {
  const plain = new NoopsError('NOOPS_E_DEPLOY_LOCKED', 'deployment #3 is running');
  assert.deepEqual([plain.name, plain.status, plain.hint], ['NoopsError', 409, ERROR_CODES.NOOPS_E_DEPLOY_LOCKED.hint]);
  const cause = new Error('socket hang up');
  const own = new NoopsError('NOOPS_E_FORBIDDEN', 'no', { hint: 'ask the noops admin', cause });
  assert.equal(own.hint, 'ask the noops admin');
  assert.equal(own.cause, cause);
  assert.equal('cause' in plain, false, 'no cause property when none was given');
});

test('NoopsError: toJSON is what the API sends, and what the client turns back into the same error', () => {
  const e = new NoopsError('NOOPS_E_TAG_UNKNOWN', 'no node x', { hint: 'pick a node in the tree' });
  const wire = JSON.parse(JSON.stringify(e)) as { code: unknown; message: string; hint: string };
  assert.deepEqual(wire, { code: 'NOOPS_E_TAG_UNKNOWN', message: 'no node x', hint: 'pick a node in the tree' });
  assert.ok(isErrorCode(wire.code));
  const back = new NoopsError(wire.code, wire.message, { hint: wire.hint });
  assert.deepEqual([back.code, back.status, back.message, back.hint], [e.code, e.status, e.message, e.hint]);
  assert.equal(
    isErrorCode(['NOOPS', 'E', 'NOPE'].join('_')),
    false,
    'an unregistered code (spelt so that the registry test does not take it for a use)',
  );
  assert.equal(isErrorCode('toString'), false, 'only own keys of the registry are codes');
});
