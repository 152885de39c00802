/**
 * Starting one process the way the supervisor needs it: `/bin/sh -c`, its own process group,
 * output appended to two log files through file descriptors (never pipes, so the process
 * outlives the agent without SIGPIPE and keeps logging when nobody reads).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { WatchSpec } from './types.js';
import type { RunAs } from './user.js';

/** rw-r-----: logs may hold secrets a service prints; the group (e.g. a log shipper) may read them. */
const LOG_FILE_MODE = 0o640;

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

function spawnLogged(spec: WatchSpec, command: string, env: Record<string, string>, runAs: RunAs | undefined): ChildProcess {
  mkdirSync(spec.logDir, { recursive: true });
  const paths = logPaths(spec);
  const out = openSync(paths.out, 'a', LOG_FILE_MODE);
  let err: number | undefined;
  try {
    err = openSync(paths.err, 'a', LOG_FILE_MODE);
    return spawn('/bin/sh', ['-c', command], {
      cwd: spec.cwd,
      env: runAs ? { ...env, HOME: runAs.home, USER: runAs.name, LOGNAME: runAs.name } : env,
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
