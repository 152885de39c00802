import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { autoTlsFiles, ensureAutoTls, loadGivenTls } from './files.js';
import { SERVER_VALID_DAYS } from './certs.js';
import { parseSubjectAltName } from './sans.js';

const dirs: string[] = [];
after(() =>
  dirs.forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  }),
);
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'noops-tls-'));
  dirs.push(d);
  return d;
}

const SANS = { dns: ['localhost', 'cp1'], ips: ['127.0.0.1', '::1', '10.0.0.5'] };

test('--tls auto: a CA and a server certificate it signs, with the SANs, keys and certificates 0600 in a 0700 folder', async () => {
  const data = tmp();
  const tls = await ensureAutoTls(data, SANS);
  const f = autoTlsFiles(data);
  assert.equal(tls.action, 'created');
  assert.equal(tls.caFile, f.caCert);
  assert.equal(statSync(f.dir).mode & 0o777, 0o700);
  for (const file of [f.caKey, f.caCert, f.key, f.cert]) assert.equal(statSync(file).mode & 0o777, 0o600, file);

  const ca = new X509Certificate(readFileSync(f.caCert));
  const cert = new X509Certificate(tls.certPem);
  assert.equal(ca.ca, true);
  assert.equal(cert.ca, false);
  assert.equal(cert.checkIssued(ca), true);
  assert.equal(cert.verify(ca.publicKey), true, 'the CA signed it');
  assert.deepEqual(parseSubjectAltName(cert.subjectAltName), SANS);
  assert.equal(cert.checkHost('cp1'), 'cp1');
  assert.equal(cert.checkIP('10.0.0.5'), '10.0.0.5');
  assert.equal(cert.checkHost('other.example.com'), undefined);
  assert.equal(tls.fingerprint, ca.fingerprint256, "agents are told the CA's fingerprint");
  const days = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
  assert.ok(Math.abs(days - SERVER_VALID_DAYS) < 2, `valid ${days} days`);
});

test('a restart keeps the CA and the certificate; a new SAN reissues the certificate under the same CA', async () => {
  const data = tmp();
  const first = await ensureAutoTls(data, SANS);
  const again = await ensureAutoTls(data, SANS);
  assert.equal(again.action, 'kept');
  assert.equal(again.certPem, first.certPem);
  const wider = await ensureAutoTls(data, { ...SANS, dns: [...SANS.dns, 'noops.example.com'] });
  assert.equal(wider.action, 'reissued');
  assert.equal(wider.fingerprint, first.fingerprint, 'the pinned CA stays');
  assert.notEqual(wider.certPem, first.certPem);
  assert.equal(new X509Certificate(wider.certPem).checkHost('noops.example.com'), 'noops.example.com');
  // a certificate close to its end is reissued too
  const later = await ensureAutoTls(data, SANS, new Date(Date.now() + (SERVER_VALID_DAYS - 10) * 86_400_000));
  assert.equal(later.action, 'reissued');
});

test('--tls-cert/--tls-key: a pair is read; a key of another certificate or a non-PEM file is refused before listening', async () => {
  const a = tmp();
  const b = tmp();
  const ta = await ensureAutoTls(a, SANS);
  const tb = await ensureAutoTls(b, SANS);
  const fa = autoTlsFiles(a);
  const fb = autoTlsFiles(b);
  const given = loadGivenTls(fa.cert, fa.key);
  assert.equal(given.action, 'given');
  assert.equal(given.caFile, undefined);
  assert.equal(given.fingerprint, new X509Certificate(ta.certPem).fingerprint256);
  assert.notEqual(tb.fingerprint, ta.fingerprint);
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      return err instanceof NoopsError ? err.code : 'not a NoopsError';
    }
    return undefined;
  };
  assert.equal(
    code(() => loadGivenTls(fa.cert, fb.key)),
    'NOOPS_E_TLS_FILES',
  );
  const junk = join(a, 'junk.pem');
  writeFileSync(junk, 'not a certificate');
  assert.equal(
    code(() => loadGivenTls(junk, fa.key)),
    'NOOPS_E_TLS_FILES',
  );
  assert.equal(
    code(() => loadGivenTls(fa.cert, junk)),
    'NOOPS_E_TLS_FILES',
  );
  assert.equal(
    code(() => loadGivenTls(join(a, 'missing.pem'), fa.key)),
    'NOOPS_E_TLS_FILES',
  );
});
