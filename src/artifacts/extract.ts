/**
 * Unpacking a verified package into an empty folder, safely: list every entry first and refuse
 * the whole package if one breaks the rules (install-entries.ts); only then extract with tar,
 * which is strict (any warning fails), never applies the archive's owners, and refuses to write
 * through symlinks on its own. A last walk over what landed checks it once more.
 */
import { lstat, readdir, realpath, chmod } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { extract, list } from 'tar';
import { NoopsError } from '../errors/index.js';
import { checkEntries, type TarEntry } from './entries.js';
import { checkUnpackedSize, unpackLimits, type UnpackLimits } from './unpack-limits.js';

/** setuid, setgid, sticky: a release never needs them, and setuid files owned by root are a hole. */
const SPECIAL_MODE_BITS = 0o7000;

/** Lists the entries of a tar(.gz) without extracting anything. */
export async function listEntries(file: string): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (e) => {
        entries.push({ path: e.path, type: e.type, linkpath: e.linkpath, size: e.size });
      },
    });
  } catch (err) {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the package is not a readable tar.gz: ${(err as Error).message}`, { cause: err });
  }
  return entries;
}

/**
 * Extracts `file` into `dest` (an empty folder that exists). Throws NOOPS_E_PACKAGE_UNSAFE
 * before writing anything when an entry breaks the rules, NOOPS_E_PACKAGE_TOO_LARGE when it
 * would unpack past `limits` (unpack-limits.ts); NOOPS_E_PACKAGE_INVALID when tar
 * fails. The caller removes `dest` on failure.
 */
export async function extractPackage(file: string, dest: string, limits: UnpackLimits = unpackLimits()): Promise<void> {
  const entries = await listEntries(file);
  if (entries.length === 0) throw new NoopsError('NOOPS_E_PACKAGE_INVALID', 'the package holds no entries');
  checkEntries(entries);
  checkUnpackedSize(entries, limits); // before a byte is written: a package cannot fill the disk
  try {
    await extract({ file, cwd: dest, strict: true, preserveOwner: false, preservePaths: false });
  } catch (err) {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the package could not be extracted: ${(err as Error).message}`, { cause: err });
  }
  await checkTree(dest);
}

/**
 * Walks what was extracted: only folders, regular files and symlinks that resolve inside;
 * setuid/setgid/sticky bits are cleared.
 */
async function checkTree(root: string): Promise<void> {
  const realRoot = await realpath(root);
  const inside = (p: string): boolean => p === realRoot || p.startsWith(realRoot + sep);
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const st = await lstat(path);
      const rel = JSON.stringify(path.slice(root.length + 1));
      if (st.isDirectory()) {
        await walk(path);
      } else if (st.isSymbolicLink()) {
        let target: string | null = null;
        try {
          target = await realpath(path);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') unsafe(`symlink ${rel} cannot be resolved (${code})`);
        }
        if (target !== null && !inside(target)) unsafe(`symlink ${rel} resolves outside the release`);
      } else if (st.isFile()) {
        if (st.mode & SPECIAL_MODE_BITS) await chmod(path, st.mode & 0o777);
      } else {
        unsafe(`${rel} is neither a file, a folder nor a symlink`);
      }
    }
  };
  await walk(root);
}

function unsafe(message: string): never {
  throw new NoopsError('NOOPS_E_PACKAGE_UNSAFE', `refused the package: ${message}`);
}
