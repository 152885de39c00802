/**
 * The build uids held on this host, across processes: one file per uid held
 * (`/run/noops-build-uids/<uid>`, holding `<pid> <start time>` of the process that holds it).
 *
 * Why: a build's uid is also how its leftovers are killed (`kill -KILL -1` as that uid, in
 * sandbox-cleanup.ts), and a container step's processes are that uid on the host too. Two servers
 * on one host (or two test files run side by side) that each counted from 61000 gave one uid to
 * two builds at once, and the end of one killed the other's processes. A uid is taken by creating
 * its file (`wx`: exclusive), freed by removing it; the file of a process that is gone (a crash)
 * is taken over. `/run` is a tmpfs only root writes: a reboot frees every lease, and no build
 * (which never runs as root) can write or remove one.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';

/** Where the leases live: root's, cleared at boot. */
export const UID_LEASE_DIR = '/run/noops-build-uids';

/** The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or null when it is gone. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count from its closing one
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** This process as a lease names it: its pid and start time (a pid the kernel reuses is another process). */
const SELF = `${process.pid} ${startTime(process.pid) ?? '0'}`;

/** True when the holder written in a lease (`<pid> <start time>`) still runs. */
function holderAlive(content: string): boolean {
  const [pid, start] = content.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return false;
  return startTime(n) === start;
}

/** The uids of this host's builds: {@link take} one, {@link free} it. */
export class UidLeases {
  readonly #dir: string;

  /**
   * `dir`: where the lease files go (tests: a folder of their own).
   *
   * @throws NoopsError NOOPS_E_BUILD_SANDBOX when the folder cannot be made, or another user than
   *   this process's may write it (a lease there could be forged or removed)
   */
  constructor(dir: string = UID_LEASE_DIR) {
    this.#dir = dir;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new NoopsError('NOOPS_E_BUILD_SANDBOX', `cannot keep the build uids' leases in ${dir}: ${(err as Error).message}`);
    }
    const st = statSync(dir);
    if (st.uid !== (process.getuid?.() ?? st.uid)) {
      throw new NoopsError(
        'NOOPS_E_BUILD_SANDBOX',
        `the build uids' leases folder ${dir} belongs to uid ${st.uid}, who could forge or remove a lease`,
        {
          hint: 'remove it: noops makes it again, its own, 0755',
        },
      );
    }
    if ((st.mode & 0o022) !== 0) chmodSync(dir, 0o755); // (a umask of 002): only its owner writes leases
  }

  /**
   * Takes the first uid of `candidates` no live process holds; undefined when every one is held.
   * A lease whose holder is gone is taken over. (Two processes taking over the same dead lease in
   * the same instant could both win; a dead holder is a crashed server, and both would still be
   * builds of this host, never the server.)
   */
  take(candidates: readonly number[]): number | undefined {
    for (const uid of candidates) {
      const file = join(this.#dir, String(uid));
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          writeFileSync(file, SELF, { flag: 'wx', mode: 0o644 });
          return uid;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        let holder: string;
        try {
          holder = readFileSync(file, 'utf8');
        } catch {
          continue; // freed meanwhile: try again
        }
        // a lease being written is empty for an instant: held
        if (holder === '' || holderAlive(holder)) break;
        try {
          unlinkSync(file); // its holder is gone
        } catch {}
      }
    }
    return undefined;
  }

  /** Frees `uid` (taken by this process). */
  free(uid: number): void {
    const file = join(this.#dir, String(uid));
    try {
      if (readFileSync(file, 'utf8') === SELF) unlinkSync(file);
    } catch {
      // gone already
    }
  }
}
