/** The package writer: manifest.json plus the checkout (without .git and excluded paths) as tar.gz. */
import { lstat, readdir, readlink, realpath, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { create } from 'tar';
import { NoopsError } from '../errors/index.js';
import { MANIFEST_FILE, type ReleaseManifest } from '../release/index.js';
import { excludeMatcher } from './exclude.js';

/** What goes into a package. */
export interface PackageInput {
  /** the built checkout */
  root: string;
  manifest: ReleaseManifest;
  /** noops.yaml's exclude patterns */
  exclude: readonly string[];
  /** the tar.gz to write */
  file: string;
}

/**
 * Writes the release package: `manifest.json` first, then the checkout's files. `.git` (at any
 * depth) and excluded paths are left out; symlinks are stored as symlinks, never followed.
 *
 * @throws NoopsError NOOPS_E_PACKAGE_UNSAFE for a symlink that leads out of the checkout;
 *   NOOPS_E_PACKAGE_INVALID when the checkout has its own manifest.json at its root
 */
export async function writePackage(input: PackageInput): Promise<void> {
  const root = await realpath(input.root);
  const matches = excludeMatcher(input.exclude);
  const excluded = (rel: string): boolean => rel.split('/').includes('.git') || matches(rel);

  if (await exists(join(root, MANIFEST_FILE))) {
    throw new NoopsError(
      'NOOPS_E_PACKAGE_INVALID',
      `the checkout has its own ${MANIFEST_FILE} at its root, a name the release package keeps for itself`,
      {
        hint: `move or rename ${MANIFEST_FILE} in the repository (or stop the build from writing it)`,
      },
    );
  }
  await checkSymlinks(root, excluded);
  await writeFile(join(root, MANIFEST_FILE), `${JSON.stringify(input.manifest, null, 2)}\n`);

  // manifest.json first, so a reader finds it without reading the whole archive
  const names = (await readdir(root)).filter((name) => name !== MANIFEST_FILE && !excluded(name)).sort();
  await create(
    {
      gzip: true,
      cwd: root,
      portable: true, // no uid, gid, user names or device numbers of the build server
      file: input.file,
      filter: (path) => {
        const rel = path.replace(/^(?:\.\/)+/, '');
        return rel === MANIFEST_FILE || !excluded(rel);
      },
    },
    [MANIFEST_FILE, ...names],
  );
}

/**
 * Refuses symlinks that lead out of `root`: absolute ones (they name the build server's
 * folders), and relative ones that resolve outside, followed as the file system would (so
 * `a/b -> ..` then `c -> a/b/..` is caught). A dangling link is judged by its text.
 *
 * @throws NoopsError NOOPS_E_PACKAGE_UNSAFE naming the link
 */
export async function checkSymlinks(root: string, skip: (rel: string) => boolean = () => false): Promise<void> {
  const realRoot = await realpath(root);
  const inside = (path: string): boolean => path === realRoot || path.startsWith(realRoot + sep);
  const walk = async (relDir: string): Promise<void> => {
    for (const entry of await readdir(join(realRoot, relDir), { withFileTypes: true })) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      if (skip(rel)) continue;
      if (entry.isDirectory()) await walk(rel);
      if (!entry.isSymbolicLink()) continue;
      const full = join(realRoot, rel);
      const target = await readlink(full);
      if (isAbsolute(target)) throw unsafe(rel, target, 'is absolute');
      let resolved: string;
      try {
        resolved = await realpath(full);
      } catch {
        resolved = resolve(dirname(full), target); // dangling or a loop: judge the text
      }
      if (!inside(resolved)) throw unsafe(rel, target, 'points outside the package');
    }
  };
  await walk('');
}

function unsafe(rel: string, target: string, why: string): NoopsError {
  return new NoopsError('NOOPS_E_PACKAGE_UNSAFE', `the symlink ${rel} -> ${target} ${why}`, {
    hint: 'make the link relative and inside the repository, or add it to exclude in noops.yaml',
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
