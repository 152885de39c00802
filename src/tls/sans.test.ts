import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coversSans, parseSubjectAltName, serverSans } from './sans.js';

test('the SANs: loopback names, the host name, the listen address and the extras, each once', () => {
  assert.deepEqual(
    serverSans({ listenHost: '10.0.0.5', hostname: 'CP1', extras: ['noops.example.com', '10.0.0.5', '[2001:db8::7]'], interfaces: [] }),
    {
      dns: ['localhost', 'cp1', 'noops.example.com'],
      ips: ['127.0.0.1', '::1', '10.0.0.5', '2001:db8::7'],
    },
  );
  assert.deepEqual(serverSans({ listenHost: '127.0.0.1', hostname: 'localhost', extras: [], interfaces: [] }), {
    dns: ['localhost'],
    ips: ['127.0.0.1', '::1'],
  });
});

test('a wildcard listen address gives every external address of the machine, not 0.0.0.0', () => {
  const interfaces = [
    { address: '127.0.0.1', internal: true },
    { address: '10.1.2.3', internal: false },
    { address: 'fe80::1', internal: false }, // link-local: needs a zone, never typed in --server
    { address: '2001:db8::1', internal: false },
  ];
  assert.deepEqual(serverSans({ listenHost: '0.0.0.0', hostname: 'cp1', extras: [], interfaces }), {
    dns: ['localhost', 'cp1'],
    ips: ['127.0.0.1', '::1', '10.1.2.3', '2001:db8::1'],
  });
});

test("Node's subjectAltName text read back, and whether a certificate covers what is wanted", () => {
  const have = parseSubjectAltName('DNS:localhost, DNS:cp1, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.deepEqual(have, { dns: ['localhost', 'cp1'], ips: ['127.0.0.1', '::1'] });
  assert.equal(coversSans(have, { dns: ['cp1'], ips: ['::1'] }), true);
  assert.equal(coversSans(have, { dns: ['cp1'], ips: ['10.0.0.5'] }), false);
  assert.deepEqual(parseSubjectAltName(undefined), { dns: [], ips: [] });
});
