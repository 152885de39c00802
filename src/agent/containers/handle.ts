/**
 * One running container as the supervisor holds it (a `ContainerHandle`): its output followed
 * and demultiplexed into the process's two log files, its death from the engine's wait (with
 * the engine's OOMKilled), its stop (the stop signal, the engine's kill after the timeout), and
 * its removal once it ended.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { formatBytes, type ContainerExit, type ContainerHandle } from '../../supervisor/index.js';

/** 5 s: how long the engine's SIGKILL may take to end a container before the stop gives up waiting. */
const KILL_WAIT_MS = 5_000;

export interface FollowOptions {
  logs: { out: string; err: string };
  /** follow output from this time (seconds since the epoch); 0: from its start */
  since: number;
  /** its memory limit, for the words of an oom */
  memory?: number;
}

/** Follows a started container: `info` is its inspection after the start. */
export function followContainer(
  docker: Dockerode,
  container: Dockerode.Container,
  info: Dockerode.ContainerInspectInfo,
  opts: FollowOptions,
): ContainerHandle {
  const abort = new AbortController();
  let released = false;
  const pid = info.State.Pid > 0 ? info.State.Pid : null;
  const address = Object.values(info.NetworkSettings.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress ?? null;
  void followLogs(docker, container, opts, abort.signal);
  const exited: Promise<ContainerExit> = (async () => {
    let code: number | null = null;
    try {
      code = ((await container.wait({ abortSignal: abort.signal })) as { StatusCode: number }).StatusCode;
    } catch {
      if (released) return new Promise<ContainerExit>(() => undefined); // let go: never resolves
    }
    const state = await container.inspect().then(
      (i) => i.State,
      () => null,
    );
    const oom = state?.OOMKilled === true;
    code ??= state?.ExitCode ?? null;
    await container.remove({ force: true }).catch(() => undefined);
    const limit = opts.memory === undefined ? '' : ` of ${formatBytes(opts.memory)}`;
    const reason = oom ? `killed for memory (oom): over its limit${limit}, exit code ${code}` : `exited with code ${code}`;
    return { code, oom, reason };
  })();
  return {
    id: info.Id,
    pid,
    address,
    startedAt: Date.parse(info.State.StartedAt) || Date.now(),
    exited,
    signal: (signal) => container.kill({ signal }).then(() => undefined),
    async stop(signal, timeoutMs) {
      await container.kill({ signal }).catch(() => undefined); // 409: not running any more
      const ended = exited.then(() => true);
      if (await Promise.race([ended, sleep(timeoutMs, false)])) return `stopped by request (${signal})`;
      await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      let reason = `killed with SIGKILL: still running ${timeoutMs} ms after ${signal}`;
      if (!(await Promise.race([ended, sleep(KILL_WAIT_MS, false)]))) reason += `; container still there ${KILL_WAIT_MS} ms after SIGKILL`;
      return reason;
    },
    release() {
      released = true;
      abort.abort();
    },
  };
}

/** The engine's output stream of the container, demultiplexed and appended to the two log files. */
async function followLogs(docker: Dockerode, container: Dockerode.Container, opts: FollowOptions, signal: AbortSignal): Promise<void> {
  for (const f of [opts.logs.out, opts.logs.err]) mkdirSync(f.slice(0, f.lastIndexOf('/')) || '/', { recursive: true });
  const out = createWriteStream(opts.logs.out, { flags: 'a', mode: 0o640 });
  const err = createWriteStream(opts.logs.err, { flags: 'a', mode: 0o640 });
  const close = (): void => {
    out.end();
    err.end();
  };
  try {
    const stream = (await container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      since: opts.since,
      abortSignal: signal,
    })) as NodeJS.ReadableStream;
    docker.modem.demuxStream(stream, out, err);
    stream.on('end', close);
    stream.on('error', close);
    signal.addEventListener('abort', () => (stream as unknown as { destroy?: () => void }).destroy?.(), { once: true });
  } catch {
    close(); // aborted, or the container is gone already
  }
}
