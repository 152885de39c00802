/**
 * A folder of verified packages named by their sha256: reuse a cached copy that still verifies,
 * else download into a temp file beside it, verify, and rename into place. A file in the folder
 * under its sha256 has always been verified. Agents keep release and runtime packages this way,
 * and so does the server's runtime cache.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { assertSha256, sha256File } from './sha256.js';

/** Writes the package to `destPath` (a file that does not exist yet); rejects on failure. */
export type Download = (destPath: string) => Promise<void>;

/**
 * Returns the path of the verified package `sha256` in `dir`, downloading it if needed.
 * A download that does not match is deleted and NOOPS_E_SHA256_MISMATCH is thrown.
 *
 * @example const { file } = await ensureVerified('/var/lib/noops/agent/cache', sha256, (dest) => fetchTo(url, dest));
 */
export async function ensureVerified(dir: string, sha256: string, download: Download): Promise<{ file: string; downloaded: boolean }> {
  assertSha256(sha256);
  const file = join(dir, sha256);
  await mkdir(dir, { recursive: true });
  if (await isFile(file)) {
    if ((await sha256File(file)) === sha256) {
      // Fresh mtime: pruning spares recently used packages.
      const now = new Date();
      await utimes(file, now, now);
      return { file, downloaded: false };
    }
    await rm(file, { force: true }); // damaged on disk: fetch it again
  }
  const tmp = join(dir, `.tmp-${sha256}-${randomBytes(6).toString('hex')}`);
  try {
    await download(tmp);
    if (!(await isFile(tmp))) {
      throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the download of package ${sha256} wrote no file`);
    }
    const actual = await sha256File(tmp);
    if (actual !== sha256) {
      throw new NoopsError('NOOPS_E_SHA256_MISMATCH', `the downloaded package has sha256 ${actual}, expected ${sha256}`);
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { file, downloaded: true };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
