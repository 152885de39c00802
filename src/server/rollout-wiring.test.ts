import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRemoteCommand } from './rollout-wiring.js';

test('a command from another server is taken only in its shape; anything else is ignored, never acted on', () => {
  assert.deepEqual(parseRemoteCommand('{"id":7,"action":"pause","by":"alice"}'), { id: 7, action: 'pause', by: 'alice' });
  for (const bad of [
    'not json',
    '{"id":7,"action":"delete","by":"alice"}',
    '{"id":"7","action":"pause","by":"alice"}',
    '{"id":7.5,"action":"pause","by":"alice"}',
    '{"id":7,"action":"pause"}',
    '[1,2]',
    'null',
  ]) {
    assert.equal(parseRemoteCommand(bad), undefined, bad);
  }
});
