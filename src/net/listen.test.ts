/** Listening addresses, as `--listen`, `--dns` and `--push-listen` give them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen } from './listen.js';

test('HOST:PORT, [IPv6]:PORT and :PORT (the default host); none else', () => {
  assert.deepEqual(parseListen('127.0.0.1:1988', '0.0.0.0'), { host: '127.0.0.1', port: 1988 });
  assert.deepEqual(parseListen('[::1]:0', '0.0.0.0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListen('[fe80::1%eth0]:7700', '0.0.0.0'), { host: 'fe80::1%eth0', port: 7700 });
  assert.deepEqual(parseListen(':1988', '0.0.0.0'), { host: '0.0.0.0', port: 1988 });
  assert.deepEqual(parseListen(':7700', '127.0.0.1'), { host: '127.0.0.1', port: 7700 });
  assert.deepEqual(parseListen(' example.org:65535 ', '127.0.0.1'), { host: 'example.org', port: 65535 });
  for (const bad of ['127.0.0.1:99999', '1988', '127.0.0.1', 'a b:1', '::1:80', '[::1]', 'h:123456', '', 'nonsense'])
    assert.equal(parseListen(bad, '0.0.0.0'), undefined, bad);
});
