/**
 * Getting a verified package into `<root>/cache/<sha256>` (see artifacts' `ensureVerified`).
 * A package in the cache under its sha256 has always been verified.
 */
import { ensureVerified, type Download } from '../../artifacts/index.js';
import { cacheDir } from './install-paths.js';

export { sha256File } from '../../artifacts/index.js';
export type { Download } from '../../artifacts/index.js';

/**
 * Returns the path of the verified package `sha256` in the agent's cache, downloading it if
 * needed. A download that does not match is deleted and NOOPS_E_SHA256_MISMATCH is thrown.
 */
export function ensurePackage(root: string, sha256: string, download: Download): Promise<{ file: string; downloaded: boolean }> {
  return ensureVerified(cacheDir(root), sha256, download);
}
