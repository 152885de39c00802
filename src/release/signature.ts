/**
 * Release signatures (docs/trust.md#signed-releases): what a server signs and an agent verifies,
 * as pure functions over Node's crypto (Ed25519).
 *
 * The signed message is the UTF-8 bytes of
 *
 *   noops-release-signature-v1\n{"job":...,"manifest":{...},"sha256":"...","version":"..."}
 *
 * the fixed first line, then the canonical JSON (RFC 8785, JCS) of the four fields: object keys
 * sorted by UTF-16 code units at every depth, no whitespace, strings and numbers written as
 * ECMAScript's JSON.stringify writes them. Any tool with Ed25519 and a sorted-keys JSON encoder
 * can verify a release: see `releaseMessage`'s example.
 *
 * Keys travel as base64 of their raw 32 bytes; a key's id is the first 16 hex digits of the
 * sha256 of those bytes. A signature is base64 of its 64 bytes.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { ReleaseSignature, SigningKey } from './signature-types.js';

export type { ReleaseSignature, SigningKey };

/** The first line of every signed message: a signature over anything else never verifies as a release's. */
export const SIGNATURE_DOMAIN = 'noops-release-signature-v1';

/** What a signature covers: the release as an agent runs it. */
export interface SignedRelease {
  /** canonical job tag (ends in job.NAME) */
  job: string;
  version: string;
  /** the package's sha256, which the agent checks the downloaded package against */
  sha256: string;
  /** the manifest the agent runs (a JSON object) */
  manifest: unknown;
}

/**
 * JSON with object keys sorted at every depth and no whitespace (RFC 8785 for JSON values).
 * An object member whose value is undefined is left out, as JSON.stringify leaves it out (so a
 * manifest signed before it is stored verifies as read back). Throws on what JSON cannot hold
 * elsewhere (undefined in an array or alone, functions, non-finite numbers).
 *
 * @example canonicalJson({ b: [1, 'x'], a: null }) // '{"a":null,"b":[1,"x"]}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON holds no ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, as RFC 8785 section 3.2.3 asks.
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON holds no ${typeof value}`);
}

/**
 * The exact bytes a release's signature covers.
 *
 * @example
 *   releaseMessage({ job: 'cop.a_owt.b_pdl.c_service.d_job.e', version: '1a2b3c4d5', sha256: 'ab...', manifest: { processes: [] } })
 *     .toString() // 'noops-release-signature-v1\n{"job":"cop.a_owt...","manifest":{"processes":[]},"sha256":"ab...","version":"1a2b3c4d5"}'
 *   // with openssl: openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in message -sigfile sig.bin
 */
export function releaseMessage(r: SignedRelease): Buffer {
  const fields = { job: r.job, manifest: r.manifest, sha256: r.sha256, version: r.version };
  return Buffer.from(`${SIGNATURE_DOMAIN}\n${canonicalJson(fields)}`, 'utf8');
}

/** An Ed25519 public key in DER (SubjectPublicKeyInfo): these 12 bytes, then the 32 of the key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The raw public key of an Ed25519 key (private or public), as base64. Read from its DER form, not
 * its JWK: Node 20 exports a JWK holding the key's lock while it builds the object, and a garbage
 * collection then may free the job that generated the key, which takes the same lock: the process
 * hung for good (seen once in CI, in a test that made its keys with generateKeyPairSync; a server
 * makes its signing key that way on its first start).
 */
export function publicKeyOf(key: KeyObject): string {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const der = pub.export({ type: 'spki', format: 'der' });
  if (der.length !== ED25519_SPKI_PREFIX.length + 32 || !der.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX))
    throw new Error(`not an Ed25519 key (${pub.asymmetricKeyType})`);
  return der.subarray(ED25519_SPKI_PREFIX.length).toString('base64');
}

/** The id of a public key (base64 of its raw bytes): 16 hex digits of its sha256. */
export function keyIdOf(publicKey: string): string {
  return createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest('hex').slice(0, 16);
}

/** The key's published form. */
export function signingKeyOf(key: KeyObject): SigningKey {
  const publicKey = publicKeyOf(key);
  return { keyId: keyIdOf(publicKey), publicKey };
}

/** Signs a release with an Ed25519 private key. */
export function signRelease(privateKey: KeyObject, r: SignedRelease): ReleaseSignature {
  return { keyId: keyIdOf(publicKeyOf(privateKey)), value: sign(null, releaseMessage(r), privateKey).toString('base64') };
}

/** Each key's id and key object, made once per key object (an agent verifies with its one pinned key). */
const keyObjects = new WeakMap<SigningKey, { publicKey: string; keyId: string; pub?: KeyObject }>();

function known(key: SigningKey): { keyId: string; pub?: KeyObject } {
  let k = keyObjects.get(key);
  if (k === undefined || k.publicKey !== key.publicKey) {
    k = { publicKey: key.publicKey, keyId: keyIdOf(key.publicKey) }; // computed, not taken from the sender's word
    keyObjects.set(key, k);
  }
  return k;
}

/** A key's id, computed once per key object. */
export function trustedKeyId(key: SigningKey): string {
  return known(key).keyId;
}

/** A key as Node's crypto verifies with it, made once per key object; throws for a key that is not Ed25519. */
export function publicKeyObject(key: SigningKey): KeyObject {
  const k = known(key);
  k.pub ??= createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.publicKey, 'base64').toString('base64url') },
    format: 'jwk',
  });
  return k.pub;
}

/**
 * Why `signature` does not prove that `key` signed `r` (undefined when it does). The reason is
 * a sentence fragment for a log or a failure report.
 *
 * @example verifyRelease(key, release, undefined) // 'it carries no signature'
 */
export function verifyRelease(key: SigningKey, r: SignedRelease, signature: ReleaseSignature | undefined): string | undefined {
  if (signature === undefined) return 'it carries no signature';
  const keyId = trustedKeyId(key);
  if (signature.keyId !== keyId) return `its signature is by key ${signature.keyId}, not by key ${keyId} this agent trusts`;
  let ok = false;
  try {
    ok = verify(null, releaseMessage(r), publicKeyObject(key), Buffer.from(signature.value, 'base64'));
  } catch (err) {
    return `its signature could not be checked (${(err as Error).message})`;
  }
  if (!ok)
    return `its signature (key ${keyId}) does not match its job, version, sha256 and manifest: they were changed after it was signed`;
  return undefined;
}
