/**
 * Installing one version of one runtime, once, shared and read-only:
 *
 *   verified tarball --extract (safety rules)--> <runtimes>/<name>/.tmp-<version>-<rand>/[<top>/]
 *     --marker, read-only, rename--> <runtimes>/<name>/<version>/   (bin/ at its top)
 *
 * A runtime folder appears under its final name only by one rename, complete and with its
 * marker; agents install into `ROOT/runtimes`, the server (for builds) into `DATA/runtimes`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureVerified, type Download } from '../artifacts/index.js';
import { NoopsError } from '../errors/index.js';
import { RUNTIME_NAME_RE, RUNTIME_VERSION_RE } from '../release/index.js';
import type { RuntimeRef } from './types.js';

/** Written last into a runtime's folder: its presence means a complete install of that sha256. */
export const RUNTIME_MARKER = '.noops-runtime.json';

/** What the marker says. */
export interface RuntimeMarker {
  name: string;
  version: string;
  sha256: string;
  installedAt: string;
}

/**
 * The folder of one runtime version: `<runtimesDir>/<name>/<version>`.
 *
 * @throws NoopsError NOOPS_E_INPUT when the name or version could not name a folder safely
 */
export function runtimeDir(runtimesDir: string, name: string, version: string): string {
  if (!RUNTIME_NAME_RE.test(name)) throw new NoopsError('NOOPS_E_INPUT', `${JSON.stringify(name)} is not a runtime name`);
  if (!RUNTIME_VERSION_RE.test(version)) throw new NoopsError('NOOPS_E_INPUT', `${JSON.stringify(version)} is not a runtime version`);
  return join(runtimesDir, name, version);
}

/** The marker of a runtime folder, or null when it has none (not a complete install). */
export function readRuntimeMarker(dir: string): RuntimeMarker | null {
  try {
    const v = JSON.parse(readFileSync(join(dir, RUNTIME_MARKER), 'utf8')) as Partial<RuntimeMarker>;
    if (typeof v.sha256 !== 'string' || typeof v.name !== 'string' || typeof v.version !== 'string') return null;
    return { name: v.name, version: v.version, sha256: v.sha256, installedAt: String(v.installedAt ?? '') };
  } catch {
    return null;
  }
}

/**
 * Installs a runtime from a tarball already verified by its sha256. Nothing happens when the same
 * package is installed there already. Throws NOOPS_E_PACKAGE_UNSAFE / NOOPS_E_PACKAGE_INVALID
 * (nothing is left behind) for a tarball that breaks the rules.
 *
 * @example await installRuntime({ runtimesDir: '/var/lib/noops/agent/runtimes', ref, file })
 */
export async function installRuntime(opts: {
  runtimesDir: string;
  ref: Pick<RuntimeRef, 'name' | 'version' | 'sha256'>;
  /** the verified tarball */
  file: string;
}): Promise<{ dir: string; installed: boolean }> {
  const { name, version, sha256 } = opts.ref;
  const dir = runtimeDir(opts.runtimesDir, name, version);
  if (readRuntimeMarker(dir)?.sha256 === sha256) return { dir, installed: false };
  const parent = join(opts.runtimesDir, name);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${version}-${suffix()}`);
  try {
    await mkdir(tmp);
    // tar is loaded by the first unpack: a host that runs what it has never loads it
    const { extractPackage } = await import('../artifacts/extract.js');
    await extractPackage(opts.file, tmp);
    const root = await extractedRoot(tmp);
    const marker: RuntimeMarker = { name, version, sha256, installedAt: new Date().toISOString() };
    await writeFile(join(root, RUNTIME_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await makeReadOnly(root);
    await commit(root, dir, sha256);
    return { dir, installed: true };
  } finally {
    await removeTree(tmp);
  }
}

/**
 * Installs a runtime from its ref: the tarball is fetched into `cacheDir` (verified by sha256;
 * `download` is called only when the cache has no good copy), then installed.
 */
export async function ensureRuntime(opts: {
  runtimesDir: string;
  cacheDir: string;
  ref: Pick<RuntimeRef, 'name' | 'version' | 'sha256'>;
  download: Download;
}): Promise<{ dir: string; installed: boolean; downloaded: boolean }> {
  const dir = runtimeDir(opts.runtimesDir, opts.ref.name, opts.ref.version);
  if (readRuntimeMarker(dir)?.sha256 === opts.ref.sha256) return { dir, installed: false, downloaded: false };
  const pkg = await ensureVerified(opts.cacheDir, opts.ref.sha256, opts.download);
  const r = await installRuntime({ runtimesDir: opts.runtimesDir, ref: opts.ref, file: pkg.file });
  return { ...r, downloaded: pkg.downloaded };
}

/** Every complete runtime install under `runtimesDir`. */
export async function listInstalledRuntimes(runtimesDir: string): Promise<RuntimeMarker[]> {
  const out: RuntimeMarker[] = [];
  for (const name of await readdirOrEmpty(runtimesDir)) {
    if (!RUNTIME_NAME_RE.test(name)) continue;
    for (const version of await readdirOrEmpty(join(runtimesDir, name))) {
      if (!RUNTIME_VERSION_RE.test(version)) continue;
      const m = readRuntimeMarker(join(runtimesDir, name, version));
      if (m) out.push(m);
    }
  }
  return out.sort((a, b) => (a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1));
}

/** Removes one runtime version: out of the way in one rename first, so it never looks half there. */
export async function removeRuntime(runtimesDir: string, name: string, version: string): Promise<void> {
  const dir = runtimeDir(runtimesDir, name, version);
  const aside = join(runtimesDir, name, `.old-${version}-${suffix()}`);
  try {
    await rename(dir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await removeTree(aside);
}

/** Removes a folder tree that may be read-only (as installed runtimes are). */
export async function removeTree(path: string): Promise<void> {
  // A folder that cannot be made writable is not an error yet: rm then says what stops it.
  await makeWritable(path).catch(() => undefined);
  await rm(path, { recursive: true, force: true });
}

/** The folder of the extracted tarball that holds bin/: the top, or its one top folder. */
async function extractedRoot(tmp: string): Promise<string> {
  const names = await readdir(tmp);
  if (names.includes('bin')) return tmp;
  if (names.length === 1 && (await isDir(join(tmp, names[0]!))) && (await isDir(join(tmp, names[0]!, 'bin')))) return join(tmp, names[0]!);
  throw new NoopsError(
    'NOOPS_E_PACKAGE_INVALID',
    `the runtime has no bin/ at its top or under one top folder (found: ${names.slice(0, 5).join(', ') || 'nothing'})`,
  );
}

/** Renames the finished folder into place; when a concurrent install won with the same package, keeps that one. */
async function commit(root: string, dir: string, sha256: string): Promise<void> {
  try {
    await rename(root, dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  if (readRuntimeMarker(dir)?.sha256 === sha256) return; // the caller removes ours
  // Another package under this name and version (the server's catalog was reset): replace it.
  const aside = join(dir, '..', `.old-${dir.split('/').at(-1)}-${suffix()}`);
  await rename(dir, aside);
  await rename(root, dir);
  // The new one is in place; the old one, left as `.old-*`, is removed by the next prune
  // (pruneRuntimes), which reports what it cannot remove.
  await removeTree(aside).catch(() => undefined);
}

/** Files lose their write bits and folders become r-x: a shared runtime is never changed by a process. */
async function makeReadOnly(path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const name of await readdir(path)) await makeReadOnly(join(path, name));
    await chmod(path, (st.mode & 0o555) | 0o500);
  } else {
    await chmod(path, st.mode & 0o555); // no write, no setuid, setgid or sticky bits
  }
}

async function makeWritable(path: string): Promise<void> {
  const st = await lstat(path);
  if (!st.isDirectory()) return;
  await chmod(path, (st.mode & 0o777) | 0o700);
  for (const name of await readdir(path)) await makeWritable(join(path, name));
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

function suffix(): string {
  return randomBytes(6).toString('hex');
}
