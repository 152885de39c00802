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

/**
 * Files written off the caller's path: `keep(path, content)` returns at once and the newest
 * content of each path is written (atomically, synced) one write at a time; a content asked for
 * while a write of that path runs is written right after it (the ones between are skipped), and
 * the same content as the last written is not written again. nginx --api's pools use it: the
 * change is live once the control API answered, and the file (what a cold nginx reads) follows
 * without holding the pool's next change behind an fsync.
 *
 * @example
 *   const files = new FileKeeper();
 *   files.keep('/etc/nginx/noops/web.conf', text); // returns at once
 *   await files.idle();                             // every file written
 *   files.failure('/etc/nginx/noops/web.conf');     // the last write's error, if it failed
 */
export class FileKeeper {
  private readonly files = new Map<
    string,
    { wanted: string; written: string | null; writing: Promise<void> | undefined; error?: string }
  >();

  /** Writes `content` to `path` soon (see the class's comment). */
  keep(path: string, content: string): void {
    let f = this.files.get(path);
    if (f === undefined) this.files.set(path, (f = { wanted: content, written: null, writing: undefined }));
    f.wanted = content;
    if (f.writing === undefined && f.written !== content) f.writing = this.write(path, f);
  }

  /** The last write of `path` failed: why (undefined: it worked, or none ended yet). */
  failure(path: string): string | undefined {
    return this.files.get(path)?.error;
  }

  /** Resolves once no write runs (every file holds its newest content, or its write failed). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.files.values()].map((f) => f.writing).filter((w) => w !== undefined);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Stops keeping `path` (the pool is no longer driven); a write that runs ends. */
  forget(path: string): void {
    this.files.delete(path);
  }

  private async write(
    path: string,
    f: { wanted: string; written: string | null; writing: Promise<void> | undefined; error?: string },
  ): Promise<void> {
    try {
      while (f.written !== f.wanted) {
        const content = f.wanted;
        try {
          if ((await readIfAny(path)) !== content) await replaceWith(await writeTemp(path, content), path);
          f.written = content;
          f.error = undefined;
        } catch (err) {
          f.error = (err as Error).message;
          return; // tried again at the next keep()
        }
      }
    } finally {
      f.writing = undefined;
    }
  }
}
