/**
 * What the nginx and keepalived drivers share: a file replaced atomically (a temporary file
 * beside it, then one rename), and a daemon signalled through its pid file, after checking that
 * the pid is that daemon (a stale pid file must not make the agent, root, signal another process).
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NoopsError } from '../../errors/index.js';

/** The file's content, or null when there is none. */
export async function readIfAny(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Where a new version of `path` is written before it replaces the old: hidden, beside it (one rename). */
export function tempPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.noops-tmp`);
}

/** Writes `content` to `path`'s temporary file (synced), mode 0644. */
export async function writeTemp(path: string, content: string): Promise<string> {
  const tmp = tempPathOf(path);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  } catch (err) {
    await rm(tmp, { force: true });
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `cannot write ${tmp}: ${(err as Error).message}`, { cause: err });
  }
}

/** Moves the temporary file over `path` (readers see the old file or the new one, never a part). */
export async function replaceWith(tmp: string, path: string): Promise<void> {
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `cannot replace ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The pid in `pidFile` when it names a live process called `daemon` (its /proc/PID/comm);
 * null when the file or the process is missing. A pid file that names another program throws.
 */
export async function daemonPid(pidFile: string, daemon: string): Promise<number | null> {
  const text = await readIfAny(pidFile);
  if (text === null) return null;
  const pid = Number(text.trim());
  if (!/^\d{1,10}$/.test(text.trim()) || !Number.isSafeInteger(pid) || pid <= 1) {
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `${pidFile} does not hold a pid: ${JSON.stringify(text.slice(0, 40))}`);
  }
  let comm: string;
  try {
    comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // the process is gone
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `cannot read /proc/${pid}/comm: ${(err as Error).message}`, { cause: err });
  }
  if (comm !== daemon) {
    throw new NoopsError(
      'NOOPS_E_BALANCER_DRIVE',
      `${pidFile} names pid ${pid}, which is ${JSON.stringify(comm)}, not ${daemon}: not signalled`,
    );
  }
  return pid;
}

/** Sends SIGHUP (a graceful reload) to `pid`. */
export function reload(pid: number, daemon: string, pidFile: string): void {
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `cannot signal ${daemon} (pid ${pid} from ${pidFile}): ${(err as Error).message}`, {
      cause: err,
    });
  }
}
