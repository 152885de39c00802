/**
 * Secrets at rest: AES-256-GCM (Node's crypto) with one 32-byte key in DATA/secret.key.
 *
 * A sealed value is `v1:` + base64(iv | tag | ciphertext): a fresh 12-byte IV per value (NIST SP
 * 800-38D's recommended size) and GCM's 16-byte tag. The secret's scope and name are the
 * additional authenticated data, so a sealed value copied onto another secret's row does not
 * open. Without the key file nothing sealed can be read: see docs/secrets.md.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';

/** The key's file, in the server's data folder. */
export const KEY_FILE = 'secret.key';
/** AES-256: a 32-byte key. */
export const KEY_BYTES = 32;
/** GCM's standard IV size: 96 bits (longer ones are hashed down, shorter ones are weaker). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1:';

/** The key that seals every secret of one server (and of every server sharing its database). */
export interface SecretKey {
  bytes: Buffer;
  /** a short public fingerprint, stored beside each sealed value: which key sealed it */
  id: string;
}

/** A key from its 32 bytes. */
export function secretKey(bytes: Buffer): SecretKey {
  if (bytes.length !== KEY_BYTES) throw new Error(`a secret key is ${KEY_BYTES} bytes, not ${bytes.length}`);
  return { bytes, id: createHash('sha256').update('noops secret key id\0').update(bytes).digest('hex').slice(0, 12) };
}

/**
 * Reads DATA/secret.key, creating it (mode 0600, base64 text) on the first start. A key file
 * anyone else may read is made 0600 again.
 *
 * @example const key = loadOrCreateKey('/var/lib/noops');
 * @throws NoopsError NOOPS_E_SECRET_KEY when the file is there but is not a key
 */
export function loadOrCreateKey(dataDir: string): SecretKey {
  const file = join(dataDir, KEY_FILE);
  try {
    // "wx": two servers starting on one data folder never write two different keys
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const bytes = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (bytes.length !== KEY_BYTES) {
    throw new NoopsError('NOOPS_E_SECRET_KEY', `${file} is not a noops secret key (${KEY_BYTES} bytes in base64)`, {
      hint: `restore the server's ${KEY_FILE} from its backup; without it the stored secrets cannot be read`,
    });
  }
  return secretKey(bytes);
}

/**
 * Encrypts `plaintext`, bound to `aad` (the secret's scope and name).
 *
 * @example unseal(key, seal(key, 's3cret', 'cop.a\0db'), 'cop.a\0db') // 's3cret'
 */
export function seal(key: SecretKey, plaintext: string, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return FORMAT + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/**
 * Decrypts what `seal` made with the same key and `aad`.
 *
 * @throws NoopsError NOOPS_E_SECRET_KEY when the key is another, or the value or its aad was changed
 */
export function unseal(key: SecretKey, sealed: string, aad: string): string {
  const raw = sealed.startsWith(FORMAT) ? Buffer.from(sealed.slice(FORMAT.length), 'base64') : Buffer.alloc(0);
  if (raw.length < IV_BYTES + TAG_BYTES) throw unreadable(aad);
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (err) {
    throw unreadable(aad, err);
  }
}

function unreadable(aad: string, cause?: unknown): NoopsError {
  return new NoopsError(
    'NOOPS_E_SECRET_KEY',
    `the secret ${aad.replace('\0', '/')} cannot be decrypted with this server's key (another key sealed it, or it was changed)`,
    {
      cause,
      hint: `every server of one database needs the same DATA/${KEY_FILE}; otherwise set the secret again`,
    },
  );
}
