/**
 * Starting one process the way the supervisor needs it: `/bin/sh -c`, its own process group,
 * output appended to two log files through file descriptors (never pipes, so the process
 * outlives the agent without SIGPIPE and keeps logging when nobody reads).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { WatchSpec } from './types.js';
import { userEnv, type RunAs } from './user.js';

/** rw-r-----: logs may hold secrets a service prints; the group (e.g. a log shipper) may read them. */
const LOG_FILE_MODE = 0o640;

/**
 * The script `/bin/sh -c` runs for a command: a simple command whose program is an executable
 * file (`node server.js`, `./bin/app --port "$PORT"`) gets `exec ` in front, so the process
 * *is* the group leader: its pid is the one `status` shows, signals reach it directly, and no
 * idle shell waits beside it (dash, Debian's sh, does not exec the last command by itself).
 * Anything with `;`, `&`, `|`, parentheses, backquotes or a line break, a leading variable
 * assignment, a quoted or unusual first word, or a first word that is no executable file on
 * `path` (a shell builtin such as `exit` or `cd`, a keyword such as `while`) is left as written.
 *
 * @example shellScript('node server.js', process.env.PATH) // 'exec node server.js'
 * @example shellScript('cd app && node server.js', process.env.PATH) // 'cd app && node server.js'
 */
export function shellScript(command: string, path: string | undefined, cwd = '/'): string {
  const trimmed = command.trim();
  if (/[;&|()`\n]/.test(trimmed)) return command;
  const first = trimmed.split(/\s+/)[0] ?? '';
  if (!/^[A-Za-z0-9_./+-]+$/.test(first)) return command;
  return isExecutable(first, path, cwd) ? `exec ${trimmed}` : command;
}

function isExecutable(program: string, path: string | undefined, cwd: string): boolean {
  const candidates = program.includes('/')
    ? [resolve(cwd, program)]
    : (path ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => join(resolve(cwd, dir), program));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The two log files of a spec. */
export function logPaths(spec: Pick<WatchSpec, 'logDir' | 'logName'>): { out: string; err: string } {
  return {
    out: join(spec.logDir, `${spec.logName}.out.log`),
    err: join(spec.logDir, `${spec.logName}.err.log`),
  };
}

/**
 * Spawns `spec.command` detached (a new session and process group whose id is the child's pid),
 * stdin from /dev/null, stdout and stderr appended to the log files. Throws when the log files
 * cannot be opened or spawn fails at once; a later failure (bad cwd) is the child's `error` event.
 */
export function spawnProcess(spec: WatchSpec, runAs?: RunAs): ChildProcess {
  return spawnLogged(spec, spec.command, spec.env, runAs);
}

/**
 * Runs a process's stop command the same way (its folder, its environment plus NOOPS_PID, its
 * logs, its user), in a process group of its own.
 */
export function spawnStopCommand(spec: WatchSpec, pid: number, runAs?: RunAs): ChildProcess {
  return spawnLogged(spec, spec.stopCommand ?? 'true', { ...spec.env, NOOPS_PID: String(pid) }, runAs);
}

/** Opens a log for appending; its folder is made only when it is missing (not on every restart). */
function openLog(path: string, dir: string): number {
  try {
    return openSync(path, 'a', LOG_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir, { recursive: true });
    return openSync(path, 'a', LOG_FILE_MODE);
  }
}

function spawnLogged(spec: WatchSpec, command: string, env: Record<string, string>, runAs: RunAs | undefined): ChildProcess {
  const paths = logPaths(spec);
  const out = openLog(paths.out, spec.logDir);
  let err: number | undefined;
  try {
    err = openLog(paths.err, spec.logDir);
    return spawn('/bin/sh', ['-c', shellScript(command, env.PATH, spec.cwd)], {
      cwd: spec.cwd,
      env: runAs ? userEnv(env, runAs) : env,
      detached: true,
      stdio: ['ignore', out, err],
      ...(runAs && { uid: runAs.uid, gid: runAs.gid }),
    });
  } finally {
    // The child holds its own copies of the descriptors; ours are not needed once it exists.
    closeSync(out);
    if (err !== undefined) closeSync(err);
  }
}
