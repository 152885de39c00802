/**
 * Pruning a job's releases and the host's package cache.
 *
 * Releases: the newest `keep` (by install time) stay, plus the protected ones and whatever
 * `current` points to; the rest go. Cache: a package stays while any kept release of any job
 * on the host was installed from it (so another cluster of the same job can install it without
 * a download), or while it is fresh; unreferenced ones go.
 */
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NoopsError } from '../../errors/index.js';
import { cacheDir, isSha256Name, isVersionName, jobPaths, randomSuffix } from './install-paths.js';
import { readCurrent, readMarker } from './release-dir.js';

/** 5 releases: enough to roll back a few deploys at once, few enough for modest disks. */
export const DEFAULT_KEEP_RELEASES = 5;
/** 1 hour: a temp folder older than any install could take was left by a crash. */
export const STALE_TEMP_MS = 60 * 60 * 1000;
/** 10 minutes: an unreferenced package this fresh may be mid-install for another job. */
export const CACHE_GRACE_MS = 10 * 60 * 1000;

/** What a prune did. Failures to delete are listed, never thrown: a prune can always wait. */
export interface PruneResult {
  removed: string[];
  kept: string[];
  cacheRemoved: string[];
  errors: string[];
}

/**
 * Deletes all but the newest `keep` releases of `tag`, never one in `protect` or `current`,
 * then the cache packages no kept release on the host refers to. Throws (synchronously) only for
 * bad arguments; the promise always resolves.
 *
 * @example await pruneReleases(root, tag, 5, [readCurrent(root, tag)!])
 */
export function pruneReleases(
  root: string,
  tag: string,
  keep: number = DEFAULT_KEEP_RELEASES,
  protect: readonly string[] = [],
): Promise<PruneResult> {
  const paths = jobPaths(root, tag);
  if (!Number.isInteger(keep) || keep < 0) throw new NoopsError('NOOPS_E_INPUT', `keep must be an integer >= 0, got ${keep}`);
  const result: PruneResult = { removed: [], kept: [], cacheRemoved: [], errors: [] };
  const current = readCurrent(root, tag);
  const safe = new Set([...protect, ...(current === null ? [] : [current])]);
  return (async () => {
    const releases: { version: string; installedAt: number }[] = [];
    for (const name of await listDir(paths.releases, result)) {
      const dir = join(paths.releases, name);
      if (isVersionName(name)) {
        const at = Date.parse(readMarker(dir)?.installedAt ?? '');
        releases.push({ version: name, installedAt: Number.isFinite(at) ? at : await mtime(dir) });
      } else if (/^\.(tmp|old)-/.test(name) && Date.now() - (await mtime(dir)) > STALE_TEMP_MS) {
        await remove(dir, result);
      }
    }
    releases.sort((a, b) => b.installedAt - a.installedAt);
    for (const [i, { version }] of releases.entries()) {
      if (i < keep || safe.has(version)) {
        result.kept.push(version);
        continue;
      }
      // Out of the way atomically first: a half-deleted folder must never look installed.
      const trash = join(paths.releases, `.old-${version}-${randomSuffix()}`);
      try {
        await rename(join(paths.releases, version), trash);
      } catch (err) {
        result.errors.push(`${version}: ${(err as Error).message}`);
        continue;
      }
      if (await remove(trash, result)) result.removed.push(version);
    }
    await pruneCache(root, result);
    return result;
  })().catch((err: Error) => {
    result.errors.push(err.message);
    return result;
  });
}

/** Deletes cache packages that no release on the host refers to, and stale temp downloads. */
async function pruneCache(root: string, result: PruneResult): Promise<void> {
  const referenced = new Set<string>();
  for (const tag of await listDir(join(root, 'jobs'), result)) {
    const releases = join(root, 'jobs', tag, 'releases');
    for (const version of await listDir(releases, result)) {
      const sha = isVersionName(version) ? readMarker(join(releases, version))?.sha256 : undefined;
      if (sha !== undefined) referenced.add(sha);
    }
  }
  const dir = cacheDir(root);
  for (const name of await listDir(dir, result)) {
    const path = join(dir, name);
    const age = Date.now() - (await mtime(path));
    const stale = isSha256Name(name) ? !referenced.has(name) && age > CACHE_GRACE_MS : name.startsWith('.tmp-') && age > STALE_TEMP_MS;
    if (stale && (await remove(path, result))) result.cacheRemoved.push(name);
  }
}

async function listDir(dir: string, result: PruneResult): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') result.errors.push(`${dir}: ${(err as Error).message}`);
    return [];
  }
}

async function mtime(path: string): Promise<number> {
  try {
    return (await lstat(path)).mtimeMs;
  } catch {
    return Date.now();
  }
}

async function remove(path: string, result: PruneResult): Promise<boolean> {
  try {
    await rm(path, { recursive: true, force: true });
    return true;
  } catch (err) {
    result.errors.push(`${path}: ${(err as Error).message}`);
    return false;
  }
}
