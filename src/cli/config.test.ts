import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoopsError } from '../errors/index.js';
import { DEFAULT_SERVER, client, serverUrls } from './config.js';

function withEnv<T>(value: string | undefined, f: () => T): T {
  const was = process.env.NOOPS_SERVER;
  if (value === undefined) delete process.env.NOOPS_SERVER;
  else process.env.NOOPS_SERVER = value;
  try {
    return f();
  } finally {
    if (was === undefined) delete process.env.NOOPS_SERVER;
    else process.env.NOOPS_SERVER = was;
  }
}

test('serverUrls: --server, then NOOPS_SERVER, then the default; each a comma-separated list', () => {
  withEnv('http://e1:7700,http://e2:7700', () => {
    assert.deepEqual(serverUrls({ server: 'https://a:7700, https://b:7700/' }), ['https://a:7700', 'https://b:7700']);
    assert.deepEqual(serverUrls({}), ['http://e1:7700', 'http://e2:7700']);
  });
  withEnv(undefined, () => assert.deepEqual(serverUrls({}), [DEFAULT_SERVER]));
  withEnv('', () => assert.deepEqual(serverUrls({}), [DEFAULT_SERVER]));
});

test('serverUrls: a bad list is refused at the edge, naming the flag or the variable', () => {
  assert.throws(
    () => serverUrls({ server: 'http://a:7700,http://a:7700' }),
    (e: NoopsError) => e.code === 'NOOPS_E_INPUT' && e.message.startsWith('--server:'),
  );
  withEnv('http://a:7700,a:7700', () =>
    assert.throws(
      () => serverUrls({}),
      (e: NoopsError) => e.code === 'NOOPS_E_INPUT' && e.message.startsWith('NOOPS_SERVER:'),
    ),
  );
});

test('client: the CLI talks to the servers given, one of them now', () => {
  const api = client({ server: 'http://a:7700,http://b:7700', token: 't' });
  assert.deepEqual(api.servers.urls, ['http://a:7700', 'http://b:7700']);
  assert.ok(api.servers.urls.includes(api.server));
});
