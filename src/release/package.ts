/**
 * The release-package validator: what `noops build` checks before it stores a package, what the
 * server checks before it records one as a release, and what `noops package inspect` shows.
 * The rules are docs/package-spec.md's.
 */
import { stat } from 'node:fs/promises';
import { list } from 'tar';
import { checkEntries, sha256File, type TarEntry } from '../artifacts/index.js';
import { NoopsError } from '../errors/index.js';
import { MANIFEST_FILE, validateManifest } from './manifest.js';
import type { ReleaseManifest } from './types.js';

/** A manifest is a page of JSON; one bigger than this is not a manifest. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** A checked package. */
export interface PackageReport {
  manifest: ReleaseManifest;
  sha256: string;
  size: number;
  /** entries in archive order */
  entries: TarEntry[];
}

/**
 * Checks a release package against the spec: a readable tar.gz whose first entry is a regular
 * `manifest.json` that validates, and whose every entry stays inside the release folder.
 *
 * @example const { manifest } = await inspectPackage('release.tar.gz')
 * @throws NoopsError NOOPS_E_PACKAGE_INVALID (with every problem of the manifest, one a line),
 *   NOOPS_E_PACKAGE_UNSAFE (an entry that would land outside its folder)
 */
export async function inspectPackage(file: string): Promise<PackageReport> {
  const entries: TarEntry[] = [];
  const chunks: Buffer[] = [];
  let manifestBytes = 0;
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (e) => {
        entries.push({ path: e.path, type: e.type, linkpath: e.linkpath });
        if (entries.length !== 1 || e.path.replace(/^\.\//, '') !== MANIFEST_FILE) return;
        e.on('data', (chunk: Buffer) => {
          manifestBytes += chunk.length;
          if (manifestBytes <= MAX_MANIFEST_BYTES) chunks.push(chunk);
        });
      },
    });
  } catch (err) {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the package is not a readable tar.gz: ${(err as Error).message}`, { cause: err });
  }
  const first = entries[0];
  if (!first || first.path.replace(/^\.\//, '') !== MANIFEST_FILE || !['File', 'OldFile', 'ContiguousFile'].includes(first.type)) {
    throw new NoopsError(
      'NOOPS_E_PACKAGE_INVALID',
      `the package's first entry must be the file ${MANIFEST_FILE}${first ? `, not ${JSON.stringify(first.path)}` : ' (the package is empty)'}`,
    );
  }
  if (manifestBytes > MAX_MANIFEST_BYTES) {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `${MANIFEST_FILE} is ${manifestBytes} bytes; at most ${MAX_MANIFEST_BYTES} are read`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `${MANIFEST_FILE}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const manifest = validateManifest(parsed);
  checkEntries(entries);
  return { manifest, sha256: await sha256File(file), size: (await stat(file)).size, entries };
}
