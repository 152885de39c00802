/** `noops metrics`: the --since spans it reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSince } from './metrics.js';

test('--since reads a number and a unit', () => {
  assert.equal(parseSince('90s'), 90);
  assert.equal(parseSince('15m'), 900);
  assert.equal(parseSince('2h'), 7200);
  assert.equal(parseSince('7d'), 7 * 86400);
  assert.throws(() => parseSince('1w'), /NOOPS_E_INPUT|--since/);
  assert.throws(() => parseSince('h'), /--since/);
});
