/** The CLI's shared option readers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSeconds } from './common.js';

test('parseSeconds: a whole number with s, m, h or d (seconds when none), spaces around ignored', () => {
  assert.equal(parseSeconds('90', '--for'), 90);
  assert.equal(parseSeconds(' 5m ', '--for'), 300);
  assert.equal(parseSeconds('1h', '--for'), 3600);
  assert.equal(parseSeconds('1d', '--for'), 86_400);
  assert.equal(parseSeconds('0', '--for'), 0);
  for (const bad of ['1.5h', '1 h', '1w', '500ms', '-1', ''])
    assert.throws(
      () => parseSeconds(bad, '--for'),
      { code: 'NOOPS_E_INPUT', message: new RegExp(`--for "${bad}" is not a duration`) },
      bad,
    );
});
