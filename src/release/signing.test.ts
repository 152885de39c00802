import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { openStore } from '../store/open.js';
import type { ReleaseRow } from '../store/index.js';
import { verifyRelease } from './signature.js';
import { openSigner, SIGNING_KEY_FILE, signatureStatus, signerOf, signReleaseRow } from './signing.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const row = (version: string): ReleaseRow => ({
  job: JOB,
  version,
  commit: version.padEnd(40, '0'),
  repo: '/r',
  sha256: 'a'.repeat(64),
  size: 1,
  manifest: { version: 1, processes: [{ name: 'web', command: 'node s.js' }] },
  buildId: null,
  createdAt: new Date().toISOString(),
});

test('the key: created 0600 on the first start, kept, checked against the database; old releases signed once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-sign-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openStore(`sqlite:${join(dir, 'noops.db')}`);
  t.after(() => store.close());
  await store.putRelease(row('old000001'));
  const lines: string[] = [];
  const a = await openSigner(store, dir, (l) => lines.push(l));
  assert.equal(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777, 0o600);
  assert.deepEqual(lines, [
    `created the release signing key ${join(dir, SIGNING_KEY_FILE)}`,
    `signed 1 release(s) made before signing, with key ${a.key.keyId}`,
  ]);
  assert.equal(signatureStatus(a, (await store.getRelease(JOB, 'old000001'))!).state, 'signed');

  // a row slipped in unsigned later is not signed by a restart
  await store.putRelease(row('late00001'));
  const b = await openSigner(store, dir, (l) => lines.push(l));
  assert.deepEqual(b.key, a.key);
  assert.equal(lines.length, 2);
  assert.deepEqual(signatureStatus(b, (await store.getRelease(JOB, 'late00001'))!), { state: 'unsigned', keyId: null });

  // another key, or none, on a database signed with this one: the server does not start
  writeFileSync(join(dir, SIGNING_KEY_FILE), generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await assert.rejects(
    openSigner(store, dir, () => {}),
    (e: Error & { code?: string }) => e.code === 'NOOPS_E_SIGNING_KEY' && new RegExp(`signed with key ${a.key.keyId}`).test(e.message),
  );
  unlinkSync(join(dir, SIGNING_KEY_FILE));
  await assert.rejects(
    openSigner(store, dir, () => {}),
    /signing\.key is missing, and this database's releases are signed with key/,
  );
});

test('signReleaseRow signs the row as stored; a changed row shows as invalid, another key as other-key', () => {
  const signer = signerOf(generateKeyPairSync('ed25519').privateKey);
  const r = signReleaseRow(signer, { ...row('v00000001'), manifest: { processes: [], dropped: undefined } });
  assert.equal(verifyRelease(signer.key, { ...r, manifest: { processes: [] } }, r.signature!), undefined);
  assert.deepEqual(signatureStatus(signer, r), { state: 'signed', keyId: signer.key.keyId });
  assert.equal(signatureStatus(signer, { ...r, manifest: { processes: [{ name: 'x' }] } }).state, 'invalid');
  const other = signerOf(generateKeyPairSync('ed25519').privateKey);
  assert.deepEqual(signatureStatus(other, r), { state: 'other-key', keyId: signer.key.keyId });
});
