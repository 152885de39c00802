/**
 * Where a job's files live on a host (ARCHITECTURE.md, "On a host"), and the checks that make
 * a tag, a version and a sha256 safe to put into those paths.
 *
 *   <root>/jobs/<tag>/releases/<version>/      unpacked releases
 *   <root>/jobs/<tag>/current -> releases/<version>
 *   <root>/jobs/<tag>/shared/{log,data}/
 *   <root>/cache/<sha256>                      verified packages
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NoopsError } from '../../errors/index.js';

/** A canonical tag as one path segment: no "/", no leading "." (so never "." or ".."). */
const TAG_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;
/** A commit hash, short (7) to full (40, SHA-1). */
const VERSION = /^[0-9a-f]{7,40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** The marker written last into a release folder: its presence means a complete install. */
export const RELEASE_MARKER = '.noops-release.json';

/** Returns `tag` when it is a safe single path segment; throws NOOPS_E_TAG_INVALID otherwise. */
export function checkTag(tag: string): string {
  if (typeof tag !== 'string' || !TAG_SEGMENT.test(tag)) {
    throw new NoopsError(
      'NOOPS_E_TAG_INVALID',
      `${JSON.stringify(tag)} cannot name a job folder: use letters, digits, "-", "." and "_" only, not starting with "."`,
    );
  }
  return tag;
}

/** Returns `version` when it is a commit hash (7 to 40 lower-case hex); throws NOOPS_E_INPUT. */
export function checkVersion(version: string): string {
  if (typeof version !== 'string' || !VERSION.test(version)) {
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `${JSON.stringify(version)} is not a release version (7 to 40 lower-case hex digits of a commit)`,
    );
  }
  return version;
}

/** Returns the sha256 in lower case when it is 64 hex digits; throws NOOPS_E_INPUT. */
export function checkSha256(sha256: string): string {
  const lower = typeof sha256 === 'string' ? sha256.toLowerCase() : '';
  if (!SHA256.test(lower)) {
    throw new NoopsError('NOOPS_E_INPUT', `${JSON.stringify(sha256)} is not a sha256 (64 hex digits)`);
  }
  return lower;
}

/** True when `name` is a version folder name (not a temp or trash folder). */
export function isVersionName(name: string): boolean {
  return VERSION.test(name);
}

/** True when `name` is a cache entry (a sha256). */
export function isSha256Name(name: string): boolean {
  return SHA256.test(name);
}

/** The folders of one job on a host. Validates `tag`. */
export interface JobPaths {
  job: string;
  releases: string;
  current: string;
  shared: string;
  log: string;
  data: string;
}

/** @example jobPaths('/var/lib/noops', 'cop.x_job.api').current // '/var/lib/noops/jobs/cop.x_job.api/current' */
export function jobPaths(root: string, tag: string): JobPaths {
  const job = join(root, 'jobs', checkTag(tag));
  const shared = join(job, 'shared');
  return {
    job,
    releases: join(job, 'releases'),
    current: join(job, 'current'),
    shared,
    log: join(shared, 'log'),
    data: join(shared, 'data'),
  };
}

/** `<root>/cache`, shared by every job on the host. */
export function cacheDir(root: string): string {
  return join(root, 'cache');
}

/** A short random suffix for temp names: unique enough among concurrent installs on one host. */
export function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}
