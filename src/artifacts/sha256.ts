/** sha256 helpers: hashing files, and checking that a string is a sha256 before it names a path. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { NoopsError } from '../errors/index.js';

const SHA256_RE = /^[0-9a-f]{64}$/;

/** True when `value` is a sha256 in lower-case hex (64 characters). */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256_RE.test(value);
}

/**
 * Throws unless `value` is a sha256 in lower-case hex, so that no path is built from other input.
 *
 * @throws NoopsError NOOPS_E_INPUT
 */
export function assertSha256(value: unknown): asserts value is string {
  if (!isSha256(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
    throw new NoopsError('NOOPS_E_INPUT', `${shown} is not a sha256 (64 lower-case hex characters)`);
  }
}

/**
 * The sha256 of a file's content, in lower-case hex.
 *
 * @example await sha256File('release.tar.gz') // 'e3b0c442...'
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
