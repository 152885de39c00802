import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { agentCaFile, agentTrust, rememberAgentCa, serverTlsOptions, tlsAnnouncement } from './tls-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-tlsflags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NoopsError);
    return err.message;
  }
  return 'accepted';
}

test("the server's TLS flags: auto with extra SANs, a pair of files, or none; a half pair or a mix is refused", () => {
  assert.equal(serverTlsOptions({}), undefined);
  assert.deepEqual(serverTlsOptions({ tls: 'auto', tlsSan: ['a.example.com,10.0.0.5', ' b '] }), {
    auto: true,
    sans: ['a.example.com', '10.0.0.5', 'b'],
  });
  assert.deepEqual(serverTlsOptions({ tlsCert: 'c.pem', tlsKey: 'k.pem' }), { certFile: 'c.pem', keyFile: 'k.pem' });
  assert.match(
    refused(() => serverTlsOptions({ tls: 'on' })),
    /--tls "on" is not known/,
  );
  assert.match(
    refused(() => serverTlsOptions({ tlsCert: 'c.pem' })),
    /--tls-key is missing/,
  );
  assert.match(
    refused(() => serverTlsOptions({ tlsKey: 'k.pem' })),
    /--tls-cert is missing/,
  );
  assert.match(
    refused(() => serverTlsOptions({ tls: 'auto', tlsCert: 'c.pem', tlsKey: 'k.pem' })),
    /--tls auto makes its own certificate/,
  );
  assert.match(
    refused(() => serverTlsOptions({ tlsCert: 'c.pem', tlsKey: 'k.pem', tlsSan: ['x'] })),
    /--tls-san names/,
  );
});

test("the join output names the CA file, its fingerprint and the agent's command line", () => {
  const tls = { certFile: '/d/tls/server.pem', caFile: '/d/tls/ca.pem', fingerprint: 'AB:CD', action: 'created' };
  assert.deepEqual(tlsAnnouncement({ url: 'https://10.0.0.5:7700', joinTokenFile: '/d/join.token', tls }), [
    '  TLS: /d/tls/server.pem, signed by the local CA (new)',
    '  CA for agents and the CLI: /d/tls/ca.pem',
    '    sha256 AB:CD',
    '  an agent joins with: noops agent --server https://10.0.0.5:7700 --ca ca.pem --join-token-file join.token',
    '    (copy ca.pem and join.token to the host; check the fingerprint with `openssl x509 -noout -fingerprint -sha256 -in ca.pem`)',
  ]);
  assert.deepEqual(
    tlsAnnouncement({ url: 'https://x:1', joinTokenFile: 'j', tls: { certFile: '/etc/c.pem', fingerprint: 'EF', action: 'given' } }),
    [
      '  TLS: /etc/c.pem (sha256 EF)',
      '  agents and the CLI verify it with --ca FILE: the CA that signed it (none needed for a publicly trusted one)',
    ],
  );
  assert.deepEqual(tlsAnnouncement({ url: 'http://127.0.0.1:7700', joinTokenFile: 'j' }), []);
});

test("the agent's CA: given now, else the one it remembered (0600); an unreadable or non-PEM file is a clear error", () => {
  const root = join(dir, 'agent');
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, pem);
  assert.deepEqual(agentTrust(root, undefined), { given: false });
  assert.deepEqual(agentTrust(root, ca), { trust: { ca: pem }, given: true });
  writeFileSync(join(dir, 'x'), '');
  mkdirSync(root, { recursive: true });
  rememberAgentCa(root, pem);
  assert.equal(statSync(agentCaFile(root)).mode & 0o777, 0o600);
  assert.deepEqual(agentTrust(root, undefined), { trust: { ca: pem }, given: false });
  assert.match(
    refused(() => agentTrust(root, join(dir, 'missing.pem'))),
    /cannot read the CA file/,
  );
  assert.match(
    refused(() => agentTrust(root, join(dir, 'x'))),
    /holds no PEM certificate/,
  );
});
