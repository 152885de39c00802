/**
 * A job's folder on a host: the marker that makes a release folder complete, the `current`
 * symlink (switched atomically), and the shared folders kept across releases. All synchronous:
 * each is a few system calls, and the agent orders them around process starts and stops.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../../errors/index.js';
import { checkVersion, isVersionName, jobPaths, randomSuffix, RELEASE_MARKER } from './install-paths.js';

/** `.noops-release.json`, written last into a release folder by a good install. */
export interface ReleaseMarker {
  tag: string;
  version: string;
  sha256: string;
  /** ISO time of the install; prune keeps the newest by it */
  installedAt: string;
}

/** The marker of a release folder, or null when it has none (not a complete install). */
export function readMarker(dir: string): ReleaseMarker | null {
  try {
    const value = JSON.parse(readFileSync(join(dir, RELEASE_MARKER), 'utf8')) as Partial<ReleaseMarker>;
    if (typeof value.sha256 !== 'string' || typeof value.version !== 'string') return null;
    return {
      tag: String(value.tag ?? ''),
      version: value.version,
      sha256: value.sha256,
      installedAt: String(value.installedAt ?? ''),
    };
  } catch {
    return null;
  }
}

/**
 * Points `jobs/<tag>/current` at `releases/<version>` atomically: a new symlink under a temp
 * name, renamed over `current` (rename(2) replaces it in one step, so a reader sees the old
 * target or the new one, never none). Throws NOOPS_E_NOT_FOUND when the release is not
 * completely installed.
 *
 * @example switchCurrent('/var/lib/noops', tag, '15b2980f8') // current -> releases/15b2980f8
 */
export function switchCurrent(root: string, tag: string, version: string): void {
  const paths = jobPaths(root, tag);
  checkVersion(version);
  if (readMarker(join(paths.releases, version)) === null) {
    throw new NoopsError('NOOPS_E_NOT_FOUND', `release ${version} of ${tag} is not installed on this host`, {
      hint: 'install it first (installRelease), then switch',
    });
  }
  const tmp = join(paths.job, `current.tmp-${randomSuffix()}`);
  symlinkSync(join('releases', version), tmp);
  try {
    renameSync(tmp, paths.current);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The version `jobs/<tag>/current` points to, or null when there is none (or it is not ours). */
export function readCurrent(root: string, tag: string): string | null {
  let target: string;
  try {
    target = readlinkSync(jobPaths(root, tag).current);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EINVAL') return null; // missing, or not a symlink
    throw err;
  }
  const match = /^releases\/([^/]+)\/?$/.exec(target);
  return match && isVersionName(match[1]!) ? match[1]! : null;
}

/** Creates `jobs/<tag>/shared/log` and `shared/data` (kept across releases); returns their paths. */
export function ensureShared(root: string, tag: string): { log: string; data: string } {
  const { log, data } = jobPaths(root, tag);
  mkdirSync(log, { recursive: true });
  mkdirSync(data, { recursive: true });
  return { log, data };
}

/** True when `dir` holds a complete install of `sha256`. */
export function isInstalled(dir: string, sha256: string): boolean {
  return existsSync(dir) && readMarker(dir)?.sha256 === sha256;
}
