/**
 * Signatures over other things than a release, by the same server key (docs/packages-p2p.md):
 * a package's piece table and the tickets that let one agent fetch pieces from another. Each
 * kind has its own first line (its domain), so a signature of one kind never verifies as another,
 * nor as a release's (`SIGNATURE_DOMAIN`). The message is that line, a newline, then the
 * canonical JSON of the fields, exactly as a release's.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson, keyIdOf, publicKeyObject, publicKeyOf, trustedKeyId } from './signature.js';
import type { ReleaseSignature, SigningKey } from './signature-types.js';

/** The exact bytes a signature of `domain` over `fields` covers. */
export function fieldsMessage(domain: string, fields: object): Buffer {
  if (domain.includes('\n')) throw new TypeError('a signature domain is one line');
  return Buffer.from(`${domain}\n${canonicalJson(fields)}`, 'utf8');
}

/**
 * Signs `fields` under `domain` with an Ed25519 private key.
 *
 * @example signFieldsWith(key, 'noops-pieces-v1', { sha256, size, pieceSize, digests })
 */
export function signFieldsWith(privateKey: KeyObject, domain: string, fields: object): ReleaseSignature {
  return { keyId: keyIdOf(publicKeyOf(privateKey)), value: sign(null, fieldsMessage(domain, fields), privateKey).toString('base64') };
}

/**
 * Why `signature` does not prove that `key` signed `fields` under `domain` (undefined when it does).
 *
 * @example verifyFields(pinned, 'noops-pieces-v1', table, table.signature) // undefined
 */
export function verifyFields(key: SigningKey, domain: string, fields: object, signature: ReleaseSignature | undefined): string | undefined {
  // read from JSON a sender wrote: `null`, a string or a value of another type is no signature (not a throw)
  if (typeof signature !== 'object' || signature === null) return 'it carries no signature';
  if (typeof signature.keyId !== 'string' || typeof signature.value !== 'string') return 'its signature is not a key id and a value';
  const keyId = trustedKeyId(key);
  if (signature.keyId !== keyId) return `it is signed by key ${signature.keyId}, not by key ${keyId} this agent trusts`;
  try {
    if (verify(null, fieldsMessage(domain, fields), publicKeyObject(key), Buffer.from(signature.value, 'base64'))) return undefined;
  } catch (err) {
    return `its signature could not be checked (${(err as Error).message})`;
  }
  return `its signature (key ${keyId}) does not match what it signs: it was changed after it was signed`;
}
