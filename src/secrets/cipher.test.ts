import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_FILE, loadOrCreateKey, seal, secretKey, unseal } from './cipher.js';

const key = secretKey(randomBytes(32));
const AAD = 'cop.acme_owt.web\0db-password';

test('a sealed value opens with its key and aad, and does not show the value', () => {
  const sealed = seal(key, 'p4ssw0rd-ünïcode', AAD);
  assert.match(sealed, /^v1:[A-Za-z0-9+/]+=*$/);
  assert.equal(sealed.includes('p4ssw0rd'), false);
  assert.equal(unseal(key, sealed, AAD), 'p4ssw0rd-ünïcode');
  // a fresh IV each time: the same value never seals to the same text
  assert.notEqual(seal(key, 'x', AAD), seal(key, 'x', AAD));
  assert.equal(unseal(key, seal(key, '', AAD), AAD), '');
});

test('a changed ciphertext, IV or tag is refused', () => {
  const sealed = seal(key, 'p4ssw0rd', AAD);
  const raw = Buffer.from(sealed.slice(3), 'base64');
  for (const at of [0, 12, raw.length - 1]) {
    // the IV, the tag, the ciphertext
    const bad = Buffer.from(raw);
    bad[at]! ^= 1;
    assert.throws(
      () => unseal(key, `v1:${bad.toString('base64')}`, AAD),
      (e: Error & { code?: string }) => e.code === 'NOOPS_E_SECRET_KEY',
    );
  }
  assert.throws(() => unseal(key, 'v1:AAAA', AAD), /cannot be decrypted/);
  assert.throws(() => unseal(key, 'p4ssw0rd', AAD), /cannot be decrypted/);
});

test('another key, or the value moved to another secret (another aad), is refused', () => {
  const sealed = seal(key, 'p4ssw0rd', AAD);
  assert.throws(() => unseal(secretKey(randomBytes(32)), sealed, AAD), /cannot be decrypted with this server's key/);
  assert.throws(() => unseal(key, sealed, 'cop.other\0db-password'), /cannot be decrypted/);
});

test('the key file: made once, 0600, read back the same; a loose mode is tightened; a bad file is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-key-'));
  try {
    const a = loadOrCreateKey(dir);
    assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
    assert.equal(a.bytes.length, 32);
    const b = loadOrCreateKey(dir);
    assert.deepEqual(b, a);
    assert.equal(unseal(b, seal(a, 'v', AAD), AAD), 'v');
    chmodSync(join(dir, KEY_FILE), 0o644);
    loadOrCreateKey(dir);
    assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, KEY_FILE), 'utf8').trim(), a.bytes.toString('base64'));
    writeFileSync(join(dir, KEY_FILE), 'not a key\n');
    assert.throws(() => loadOrCreateKey(dir), /is not a noops secret key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
