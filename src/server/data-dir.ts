/**
 * The data folder holds the database and the admin token: only the server's user may read it.
 * A new folder is made 0700; an existing one (made by hand, or by an older noops) is tightened
 * at every start, with the files directly in it (noops.db and its -wal/-shm, the tokens).
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The folder: its owner only. */
export const DATA_DIR_MODE = 0o700;
/** Its files: read and written by their owner only. */
export const DATA_FILE_MODE = 0o600;

/**
 * Tightens `dir` to 0700 and the regular files directly in it to 0600. Subfolders keep their
 * own modes (the build sandbox sets its folder's), and symlinks are never followed. What
 * cannot be changed (another owner's file) is answered, for the caller to warn about.
 *
 * @example tightenDataDir('/var/lib/noops') // [] when all went well
 */
export function tightenDataDir(dir: string): string[] {
  const problems: string[] = [];
  const tighten = (path: string, mode: number): void => {
    try {
      const st = lstatSync(path);
      if ((st.mode & 0o777) !== mode) chmodSync(path, mode);
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
    }
  };
  tighten(dir, DATA_DIR_MODE);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isFile()) tighten(path, DATA_FILE_MODE);
  }
  return problems;
}
