/**
 * A process's `stop_command` for a container: run inside it (the engine's exec), with the
 * process's working folder, environment (plus NOOPS_PID=1: the container's main process, as its
 * own namespace numbers it) and user, its output appended to the process's log files, as the
 * process driver runs it beside a process group. The stop then waits for the container to end
 * and kills it after the stop timeout, as for a signal; the command ends with the container.
 */
import { createWriteStream } from 'node:fs';
import type Dockerode from 'dockerode';
import { shellScript } from '../../supervisor/index.js';

/** What the stop command runs as: the process's. */
export interface StopCommand {
  command: string;
  cwd: string;
  env: Record<string, string>;
  /** uid:gid */
  user: string;
}

/** The container's main process, as its own pid namespace numbers it. */
export const CONTAINER_MAIN_PID = 1;

/**
 * Starts the stop command inside the container; true once it runs, false when it could not be
 * started (the container is gone, the engine refused): the caller sends the stop signal then.
 */
export async function runStopCommand(
  container: Dockerode.Container,
  stop: StopCommand,
  logs: { out: string; err: string },
): Promise<boolean> {
  try {
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', shellScript(stop.command, stop.env.PATH, stop.cwd)],
      Env: Object.entries({ ...stop.env, NOOPS_PID: String(CONTAINER_MAIN_PID) }).map(([k, v]) => `${k}=${v}`),
      WorkingDir: stop.cwd,
      User: stop.user,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
    const out = createWriteStream(logs.out, { flags: 'a', mode: 0o640 });
    const err = createWriteStream(logs.err, { flags: 'a', mode: 0o640 });
    container.modem.demuxStream(stream, out, err);
    const close = (): void => {
      out.end();
      err.end();
    };
    stream.on('end', close);
    stream.on('error', close);
    stream.on('close', close);
    return true;
  } catch {
    return false;
  }
}
