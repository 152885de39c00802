/**
 * Removing runtimes nothing has used for a while. The decision is a pure function; the agent
 * keeps, per `name@version`, when an instance last used it.
 */
import { access, constants, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listInstalledRuntimes, removeRuntime, removeTree, type RuntimeMarker } from './install.js';

/**
 * A day: a rollback to yesterday's release finds its runtime still on disk, and a host does not
 * keep every runtime it ever ran.
 */
export const RUNTIME_KEEP_MS = 24 * 60 * 60 * 1000;
/** An hour: a temp folder older than any install could take was left by a crash. */
export const STALE_RUNTIME_TEMP_MS = 60 * 60 * 1000;

/** `name@version`, the key of a runtime in reports and in the agent's state. */
export function runtimeKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/**
 * Which installed runtimes to remove: those no instance uses now, last used (or, never seen in
 * use, installed) more than `keepMs` ago.
 *
 * @example runtimesToRemove([{ name: 'node', version: '18.20.4', installedAt: '...' }], new Set(), {}, Date.now(), 0) // ['node@18.20.4']
 */
export function runtimesToRemove(
  installed: readonly Pick<RuntimeMarker, 'name' | 'version' | 'installedAt'>[],
  inUse: ReadonlySet<string>,
  lastUsed: Readonly<Record<string, number>>,
  now: number,
  keepMs: number,
): string[] {
  const out: string[] = [];
  for (const r of installed) {
    const key = runtimeKey(r.name, r.version);
    if (inUse.has(key)) continue;
    const installedAt = Date.parse(r.installedAt);
    const last = lastUsed[key] ?? (Number.isFinite(installedAt) ? installedAt : now);
    if (now - last > keepMs) out.push(key);
  }
  return out;
}

/**
 * Removes the runtimes {@link runtimesToRemove} picks, and temp folders a crash left. Failures
 * are returned, never thrown: a prune can always wait.
 */
export async function pruneRuntimes(
  runtimesDir: string,
  inUse: ReadonlySet<string>,
  lastUsed: Readonly<Record<string, number>>,
  now: number,
  keepMs: number = RUNTIME_KEEP_MS,
): Promise<{ removed: string[]; errors: string[] }> {
  const removed: string[] = [];
  const errors: string[] = [];
  const installed = await listInstalledRuntimes(runtimesDir);
  for (const key of runtimesToRemove(installed, inUse, lastUsed, now, keepMs)) {
    const [name, version] = [key.slice(0, key.indexOf('@')), key.slice(key.indexOf('@') + 1)];
    try {
      await removeRuntime(runtimesDir, name, version);
      removed.push(key);
    } catch (err) {
      errors.push(`${key}: ${(err as Error).message}`);
    }
  }
  for (const name of await entriesOf(runtimesDir, errors)) {
    for (const entry of await entriesOf(join(runtimesDir, name), errors)) {
      if (!/^\.(tmp|old)-/.test(entry)) continue;
      const path = join(runtimesDir, name, entry);
      const stale = entry.startsWith('.old-') || now - (await mtimeMs(path)) > STALE_RUNTIME_TEMP_MS;
      if (stale) await removeTree(path).catch((err: Error) => errors.push(`${path}: ${err.message}`));
    }
  }
  return { removed, errors };
}

/**
 * Whether runtimes can be installed into `runtimesDir`: it is (or can be made) a folder we can
 * write in. The reason says what is wrong.
 */
export async function canInstallRuntimes(runtimesDir: string): Promise<{ canInstall: boolean; reason: string | null }> {
  try {
    await mkdir(runtimesDir, { recursive: true });
    await access(runtimesDir, constants.W_OK);
    const probe = join(runtimesDir, `.probe-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
    return { canInstall: true, reason: null };
  } catch (err) {
    return { canInstall: false, reason: `cannot write in ${runtimesDir}: ${(err as Error).message}` };
  }
}

/**
 * A folder's entries for the sweep of leftovers: none when it is not there or not a folder;
 * any other failure (EACCES, EIO) is said in `errors`, which the agent logs, not read as empty.
 */
async function entriesOf(dir: string, errors: string[]): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') errors.push(`${dir}: ${(err as Error).message}`);
    return [];
  }
}

async function mtimeMs(path: string): Promise<number> {
  try {
    return (await lstat(path)).mtimeMs;
  } catch {
    return Date.now();
  }
}
