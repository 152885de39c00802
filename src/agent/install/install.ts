/**
 * Putting a release on disk, safely:
 *
 *   cache/<sha256>  --verify-->  releases/.tmp-<version>-<random>/  --check, marker-->  releases/<version>/
 *
 * A release folder appears under its final name only by one rename, after a verified package was
 * extracted under the safety rules and `.noops-release.json` written into it; so a folder with a
 * marker is complete, and reinstalling it (a rollback) costs nothing. No step touches `current`
 * or another release: on any failure the host is as it was, minus a temp folder.
 */
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NoopsError } from '../../errors/index.js';
import { extractPackage } from '../../artifacts/extract.js';
import { ensurePackage, type Download } from './install-package.js';
import { checkSha256, checkVersion, jobPaths, randomSuffix, RELEASE_MARKER } from './install-paths.js';
import { readMarker, type ReleaseMarker } from './release-dir.js';

export { checkEntries, type TarEntry } from '../../artifacts/index.js';
export { extractPackage, listEntries } from '../../artifacts/extract.js';
export { ensurePackage, sha256File, type Download } from './install-package.js';
export { cacheDir, checkSha256, checkTag, checkVersion, jobPaths, RELEASE_MARKER, type JobPaths } from './install-paths.js';
export { ensureShared, isInstalled, readCurrent, readMarker, switchCurrent, type ReleaseMarker } from './release-dir.js';
export {
  CACHE_GRACE_MS,
  DEFAULT_KEEP_RELEASES,
  pruneReleases,
  STALE_TEMP_MS,
  type PruneResult,
} from './release-dir-prune.js';

/** What to install. */
export interface InstallOptions {
  /** the agent's root folder */
  root: string;
  /** canonical job tag (one path segment) */
  tag: string;
  /** the release version (commit hash) */
  version: string;
  /** sha256 of the package, as the server published it */
  sha256: string;
  /** writes the package to the given path; called only when neither the release nor the cache has it */
  download: Download;
}

/** Where the release is, and what it took. */
export interface InstallResult {
  /** `<root>/jobs/<tag>/releases/<version>` */
  dir: string;
  /** true when `download` was called */
  downloaded: boolean;
  /**
   * true when a complete install of the same version from a different package (a rebuild of the
   * same commit) was replaced. Processes running from the old folder keep its files (it is moved
   * aside, pruned later), but they run the old build: restart them.
   */
  replaced: boolean;
}

/**
 * Installs release `version` of `tag` from the package `sha256` (see the module comment).
 * Throws NOOPS_E_SHA256_MISMATCH (a bad download), NOOPS_E_PACKAGE_UNSAFE (an entry that
 * would escape the folder: nothing of the package is written), NOOPS_E_PACKAGE_INVALID (not a
 * tar.gz, or no manifest.json at the top), or the download's own error.
 *
 * @example
 *   const { dir } = await installRelease({ root, tag, version: '15b2980f8', sha256,
 *     download: (dest) => client.downloadRelease(sha256, dest) });
 *   switchCurrent(root, tag, '15b2980f8');
 */
export async function installRelease(opts: InstallOptions): Promise<InstallResult> {
  const paths = jobPaths(opts.root, opts.tag);
  const version = checkVersion(opts.version);
  const sha256 = checkSha256(opts.sha256);
  const dir = join(paths.releases, version);
  const existing = readMarker(dir);
  if (existing?.sha256 === sha256) return { dir, downloaded: false, replaced: false };

  await mkdir(paths.releases, { recursive: true });
  const pkg = await ensurePackage(opts.root, sha256, opts.download);
  const tmp = join(paths.releases, `.tmp-${version}-${randomSuffix()}`);
  try {
    await mkdir(tmp);
    await extractPackage(pkg.file, tmp);
    await checkManifest(tmp);
    const marker: ReleaseMarker = { tag: opts.tag, version, sha256, installedAt: new Date().toISOString() };
    await writeFile(join(tmp, RELEASE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    const replaced = await commit(tmp, dir, sha256);
    return { dir, downloaded: pkg.downloaded, replaced };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Renames the finished temp folder to its final name. When that name is taken: by the same
 * package (a concurrent install won), keep it; by anything else, move it aside first.
 * Returns true when an install was replaced.
 */
async function commit(tmp: string, dir: string, sha256: string): Promise<boolean> {
  try {
    await rename(tmp, dir);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  const there = readMarker(dir);
  if (there?.sha256 === sha256) {
    await rm(tmp, { recursive: true, force: true });
    return false;
  }
  // `.old-*` is pruned later: processes still running from it keep their files until then.
  const aside = join(dirname(dir), `.old-${basename(dir)}-${randomSuffix()}`);
  await rename(dir, aside);
  await rename(tmp, dir);
  return there !== null;
}

/** The package must have `manifest.json` at its top, a regular file holding a JSON object. */
async function checkManifest(dir: string): Promise<void> {
  const path = join(dir, 'manifest.json');
  const invalid = (why: string, cause?: unknown): never => {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the package's manifest.json ${why}`, { cause });
  };
  const st = await lstat(path).catch(() => null);
  if (st === null || !st.isFile()) invalid('is missing at the top of the package (or is not a regular file)');
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    invalid('is not valid JSON', err);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid('is not a JSON object');
}
