/**
 * The safety rules for a package's entries (a release or a runtime), as a pure function over
 * the entry list: a package is refused whole (never partly extracted, never silently "fixed")
 * when one entry could land, or point, outside its folder.
 */
import { win32 } from 'node:path';
import { NoopsError } from '../errors/index.js';

/** What the rules need of one tar entry. */
export interface TarEntry {
  path: string;
  /** the tar entry type name: 'File', 'Directory', 'SymbolicLink', 'Link', 'FIFO', ... */
  type: string;
  linkpath?: string;
  /** the bytes the header says the entry holds (0 for folders and links) */
  size?: number;
}

/** Regular files (three spellings in tar), folders, and the two link kinds. */
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
/** Special files: a release is code and data, never a device node or a fifo. */
const SPECIAL_TYPES = new Set(['CharacterDevice', 'BlockDevice', 'FIFO']);
/** Linux's own limit on symlinks followed in one path lookup (MAXSYMLINKS); more is a loop. */
const MAX_LINK_HOPS = 40;

type Kind = 'dir' | 'file' | 'symlink';

/**
 * Throws NOOPS_E_PACKAGE_UNSAFE, naming the entry, when any entry is absolute, has "..",
 * is written through a symlink of the package, is a device or fifo, appears twice, is a symlink
 * whose target resolves (through the package's other symlinks) outside the package, or is a
 * hard link to anything but a regular file earlier in the package. Throws
 * NOOPS_E_PACKAGE_INVALID for entry types a release never holds (sparse files, tapes, ...).
 *
 * @example checkEntries([{ path: '../evil', type: 'File' }]) // throws NOOPS_E_PACKAGE_UNSAFE
 */
export function checkEntries(entries: readonly TarEntry[]): void {
  const kinds = new Map<string, Kind>();
  const links = new Map<string, string>();
  for (const entry of entries) {
    const name = JSON.stringify(entry.path);
    if (SPECIAL_TYPES.has(entry.type)) unsafe(`entry ${name} is a ${entry.type}; devices and fifos are refused`);
    if (!ALLOWED_TYPES.has(entry.type)) {
      throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `entry ${name} is of tar type ${entry.type}, which a release package may not hold`);
    }
    const parts = splitRelative(entry.path, `entry ${name}`);
    const key = parts.join('/');
    if (key === '') {
      if (entry.type === 'Directory') continue; // "./" itself
      unsafe(`entry ${name} names the package folder itself`);
    }
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (links.has(prefix)) unsafe(`entry ${name} would be written through the symlink "${prefix}"`);
    }
    const kind: Kind = entry.type === 'Directory' ? 'dir' : entry.type === 'SymbolicLink' ? 'symlink' : 'file';
    const before = kinds.get(key);
    if (before !== undefined && !(before === 'dir' && kind === 'dir')) {
      unsafe(`entry ${name} appears twice; a second entry would replace the first`);
    }
    kinds.set(key, kind);
    if (entry.type === 'SymbolicLink') {
      if (!entry.linkpath) throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `symlink ${name} has no target`);
      links.set(key, entry.linkpath);
    } else if (entry.type === 'Link') {
      checkHardLink(name, entry.linkpath ?? '', kinds, links);
    }
  }
  // Symlinks last, with every symlink of the package known: one may lead through another.
  for (const [key, target] of links) {
    if (isAbsolute(target)) unsafe(`symlink "${key}" points to the absolute path ${JSON.stringify(target)}`);
    if (!resolvesInside(key.split('/').slice(0, -1), target, links)) {
      unsafe(`symlink "${key}" -> ${JSON.stringify(target)} points outside the release (or loops)`);
    }
  }
}

/** A hard link is safe only to a regular file of the package itself, reached without symlinks. */
function checkHardLink(name: string, linkpath: string, kinds: Map<string, Kind>, links: Map<string, string>): void {
  const parts = splitRelative(linkpath, `hard link ${name} -> ${JSON.stringify(linkpath)}`);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (links.has(prefix)) unsafe(`hard link ${name} goes through the symlink "${prefix}"`);
  }
  if (kinds.get(parts.join('/')) !== 'file') {
    unsafe(`hard link ${name} -> ${JSON.stringify(linkpath)} does not point to a file earlier in the package`);
  }
}

/** Splits a relative entry path into its parts ("." and empty parts dropped); refuses the rest. */
function splitRelative(path: string, what: string): string[] {
  if (path.includes('\0')) unsafe(`${what} has a NUL byte in its path`);
  if (isAbsolute(path)) unsafe(`${what} has an absolute path`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) unsafe(`${what} has ".." in its path`);
  return parts;
}

/**
 * Absolute for POSIX, and for the Windows rules that tar applies on every platform when it
 * strips roots ("C:", "\\server"): refusing both keeps what we check equal to what tar writes.
 */
function isAbsolute(path: string): boolean {
  return path.startsWith('/') || win32.isAbsolute(path) || /^[A-Za-z]:/.test(path);
}

/**
 * Resolves `target` from folder `start` the way the kernel would, following the package's own
 * symlinks; false when the walk leaves the package root or loops.
 */
function resolvesInside(start: string[], target: string, links: Map<string, string>): boolean {
  let hops = 0;
  const walk = (from: string[], rel: string): string[] | null => {
    if (isAbsolute(rel)) return null;
    const at = [...from];
    for (const seg of rel.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (at.length === 0) return null;
        at.pop();
        continue;
      }
      at.push(seg);
      const link = links.get(at.join('/'));
      if (link === undefined) continue;
      if (++hops > MAX_LINK_HOPS) return null;
      at.pop();
      const resolved = walk(at, link);
      if (resolved === null) return null;
      at.splice(0, at.length, ...resolved);
    }
    return at;
  };
  return walk(start, target) !== null;
}

function unsafe(message: string): never {
  throw new NoopsError('NOOPS_E_PACKAGE_UNSAFE', `refused the package: ${message}`);
}
