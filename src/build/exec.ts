/**
 * Runs one program in its own process group, against a deadline, streaming its output. A build
 * command that times out is killed with everything it started.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

/** SIGTERM first so tools can clean up (npm removes half-installed packages); SIGKILL this long after. */
export const KILL_GRACE_MS = 5_000;

/** After the program exits, how long a background child it left may hold the output pipes open. */
const OUTPUT_DRAIN_MS = 1_000;

/** Captured output is cut to its last this many characters: enough for git's error messages. */
const CAPTURE_LIMIT = 64 * 1024;

/** How to run a program. */
export interface RunOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** epoch milliseconds; the process group is killed when it passes */
  deadline: number;
  /** called with output text as it comes, stdout and stderr alike */
  onOutput?: (text: string) => void;
  /** run as this user and group (the server must be root); supplementary groups are dropped */
  uid?: number;
  gid?: number;
}

/** How a program ended. */
export interface RunResult {
  /** exit code, or null when killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** true when the deadline passed and the group was killed */
  timedOut: boolean;
  /** the last {@link CAPTURE_LIMIT} characters of each stream */
  stdout: string;
  stderr: string;
}

/**
 * Runs `file` with `args` (never through a shell unless `file` is the shell), detached into its
 * own process group, so that a timeout can kill the whole group and the program has no
 * controlling terminal to prompt on. When it exits, what it left running in its group is killed.
 *
 * @example const r = await run('git', ['--version'], { env: process.env, deadline: Date.now() + 5000 });
 * @throws the spawn error when the program cannot be started (e.g. ENOENT)
 */
export function run(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      uid: opts.uid,
      gid: opts.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];

    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is gone already
      }
    };
    const collect = (stream: NodeJS.ReadableStream, key: 'stdout' | 'stderr'): void => {
      const decoder = new StringDecoder('utf8'); // a character may be split across chunks
      const take = (text: string): void => {
        if (text === '') return;
        out[key] = (out[key] + text).slice(-CAPTURE_LIMIT);
        opts.onOutput?.(text);
      };
      stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
      stream.on('end', () => take(decoder.end()));
    };
    collect(child.stdout, 'stdout');
    collect(child.stderr, 'stderr');

    const remaining = Math.max(0, opts.deadline - Date.now());
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        timers.push(setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS));
      }, remaining),
    );

    child.on('error', (err) => {
      timers.forEach(clearTimeout);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      killGroup('SIGKILL'); // background children of a finished step do not outlive it
      // a child that left the group (setsid) may still hold the pipes: stop waiting for it
      timers.push(
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, OUTPUT_DRAIN_MS),
      );
    });
    child.on('close', () => {
      timers.forEach(clearTimeout);
      if (!exit) return; // 'error' handled it
      resolve({ ...exit, timedOut, ...out });
    });
  });
}
