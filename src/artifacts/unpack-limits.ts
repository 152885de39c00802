/**
 * How much a package may unpack to, checked on its entry list before anything is written: a
 * 3 KB package once unpacked to 3 MB with no cap, and nothing stopped one from filling a
 * host's disk. Tar headers declare each file's size, and sparse entries are refused
 * (entries.ts), so the sum of the declared sizes is what extraction writes.
 */
import { NoopsError } from '../errors/index.js';
import type { TarEntry } from './entries.js';

/**
 * Bytes a package may unpack to. The largest releases seen are a JVM service with its jars or a
 * Node.js app with node_modules, a few hundred MB; 2 GiB leaves them room and still stops a
 * package from taking a host's disk. A host may set NOOPS_PACKAGE_MAX_BYTES (smaller disks, tests).
 */
export const PACKAGE_MAX_UNPACKED_BYTES = 2 * 1024 ** 3;

/**
 * Entries (files, folders, links) a package may hold. A large node_modules is about 100,000
 * files; 250,000 leaves room and stops an archive of millions of empty files from exhausting
 * the host's inodes. A host may set NOOPS_PACKAGE_MAX_FILES.
 */
export const PACKAGE_MAX_FILES = 250_000;

export interface UnpackLimits {
  bytes: number;
  files: number;
}

/** The limits in force: the constants, or a host's NOOPS_PACKAGE_MAX_BYTES / NOOPS_PACKAGE_MAX_FILES. */
export function unpackLimits(env: NodeJS.ProcessEnv = process.env): UnpackLimits {
  return {
    bytes: positive(env, 'NOOPS_PACKAGE_MAX_BYTES') ?? PACKAGE_MAX_UNPACKED_BYTES,
    files: positive(env, 'NOOPS_PACKAGE_MAX_FILES') ?? PACKAGE_MAX_FILES,
  };
}

function positive(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new NoopsError('NOOPS_E_INPUT', `${name} "${raw}" must be a positive whole number`);
  return n;
}

/**
 * Throws NOOPS_E_PACKAGE_TOO_LARGE when the entries would unpack to more bytes or entries than
 * `limits` allow.
 *
 * @example checkUnpackedSize([{ path: 'big', type: 'File', size: 5e9 }], { bytes: 2e9, files: 10 }) // throws
 */
export function checkUnpackedSize(entries: readonly TarEntry[], limits: UnpackLimits): void {
  if (entries.length > limits.files) {
    throw new NoopsError(
      'NOOPS_E_PACKAGE_TOO_LARGE',
      `refused the package: it holds ${entries.length} entries, more than the ${limits.files} a host unpacks`,
    );
  }
  let bytes = 0;
  for (const e of entries) bytes += e.size ?? 0;
  if (bytes > limits.bytes) {
    throw new NoopsError(
      'NOOPS_E_PACKAGE_TOO_LARGE',
      `refused the package: it unpacks to ${bytes} bytes, more than the ${limits.bytes} a host unpacks`,
    );
  }
}
