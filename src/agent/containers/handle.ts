/**
 * One running container as the supervisor holds it (a `ContainerHandle`): its output followed
 * and demultiplexed into the process's two log files (from its mark: see log-mark.ts), its death
 * from the engine's wait (with the engine's OOMKilled), its stop (the stop command run inside it,
 * or the stop signal; the engine's kill after the timeout), and its removal once it ended.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { formatBytes, type ContainerExit, type ContainerHandle } from '../../supervisor/index.js';
import { type LogMark, MarkedLogWriter, readMark, timestampNs } from './log-mark.js';
import { runStopCommand, type StopCommand } from './stop-command.js';

/** 5 s: how long the engine's SIGKILL may take to end a container before the stop gives up waiting. */
const KILL_WAIT_MS = 5_000;

/**
 * 2 s: how long an ended container's last lines may take to reach the files before it is removed
 * (its stream ends by itself once the engine has sent them; one that does not must not keep a
 * dead container, and the process's restart, waiting).
 */
const LOG_DRAIN_MS = 2_000;

/**
 * 1 s: the pause before waiting again on a container that still runs after the engine's wait
 * broke off (its connection closed: an engine restart, a proxy); not a tight loop while it is away.
 */
const REWAIT_MS = 1_000;

export interface FollowOptions {
  logs: { out: string; err: string };
  /** the file of its log mark (the instance's state folder) */
  markFile: string;
  /**
   * false: started now, its output followed from its start; true: adopted, followed from its
   * mark (what it wrote while no agent ran), or from now when it has none (an older agent's)
   */
  adopted: boolean;
  /** its memory limit, for the words of an oom */
  memory?: number;
  /** run inside it instead of sending the stop signal (the process's `stop_command`) */
  stopCommand?: StopCommand;
}

/** Follows a started container: `info` is its inspection after the start. */
export function followContainer(
  container: Dockerode.Container,
  info: Dockerode.ContainerInspectInfo,
  opts: FollowOptions,
): ContainerHandle {
  const abort = new AbortController();
  let released = false;
  const pid = info.State.Pid > 0 ? info.State.Pid : null;
  const address = Object.values(info.NetworkSettings.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress ?? null;
  const follow = (adopted: boolean): { writer: MarkedLogWriter; done: Promise<void>; ended: boolean } => {
    const mark = readMark(opts.markFile, info.Id);
    const writer = new MarkedLogWriter(opts.logs, opts.markFile, mark ?? { container: info.Id, at: null });
    const logs = { writer, done: followLogs(container, writer, sinceOf(mark, adopted), abort.signal), ended: false };
    void logs.done.then(() => (logs.ended = true));
    return logs;
  };
  let logs = follow(opts.adopted);
  const exited: Promise<ContainerExit> = (async () => {
    let code: number | null = null;
    for (;;) {
      try {
        code = ((await container.wait({ abortSignal: abort.signal })) as { StatusCode: number }).StatusCode;
        break;
      } catch {
        if (released) return new Promise<ContainerExit>(() => undefined); // let go: never resolves
      }
      // the wait broke off: a container that still runs is not dead; waited on again (and its
      // output followed again from its mark if that stream broke off too), never removed
      const running = await container.inspect().then(
        (i) => i.State.Running,
        () => false,
      );
      if (!running) break;
      await sleep(REWAIT_MS);
      if (released) return new Promise<ContainerExit>(() => undefined);
      if (logs.ended) logs = follow(true);
    }
    const state = await container.inspect().then(
      (i) => i.State,
      () => null,
    );
    const oom = state?.OOMKilled === true;
    code ??= state?.ExitCode ?? null;
    // its last lines in the files (and the mark) before it is gone
    await Promise.race([logs.done, sleep(LOG_DRAIN_MS)]);
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
      let how: string = signal;
      const ran = opts.stopCommand ? await runStopCommand(container, opts.stopCommand, opts.logs) : false;
      if (ran) how = 'the stop command';
      else await container.kill({ signal }).catch(() => undefined); // 409: not running any more
      const ended = exited.then(() => true);
      if (await Promise.race([ended, sleep(timeoutMs, false)])) return `stopped by request (${how})`;
      await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      let reason = `killed with SIGKILL: still running ${timeoutMs} ms after ${how}`;
      if (!(await Promise.race([ended, sleep(KILL_WAIT_MS, false)]))) reason += `; container still there ${KILL_WAIT_MS} ms after SIGKILL`;
      return reason;
    },
    release() {
      released = true;
      logs.writer.saveMark(); // now: the agent that lets go may exit before the stream's end
      abort.abort();
    },
  };
}

/**
 * Where the engine's log is read from (seconds since the epoch; the engine's `since` is
 * inclusive, the writer skips what the mark covers): the mark's second, the start (0) for a
 * container started now or marked with no line yet, now for one adopted without a mark (an
 * older agent's: no line twice).
 */
function sinceOf(mark: LogMark | undefined, adopted: boolean): number {
  if (mark?.at) return Number(timestampNs(mark.at) / 1_000_000_000n);
  return adopted && mark === undefined ? Math.floor(Date.now() / 1000) : 0;
}

/**
 * The engine's output stream of the container (timestamped) from `since` into the writer;
 * resolves when the stream ended (the container ended, or it was let go) and the mark is saved.
 */
async function followLogs(container: Dockerode.Container, writer: MarkedLogWriter, since: number, signal: AbortSignal): Promise<void> {
  try {
    const stream = (await container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      since,
      abortSignal: signal,
    })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => writer.write(chunk));
      stream.on('end', resolve);
      stream.on('error', resolve);
      stream.on('close', resolve);
      signal.addEventListener('abort', () => (stream as unknown as { destroy?: () => void }).destroy?.(), { once: true });
    });
  } catch {
    // aborted, or the container is gone already
  } finally {
    await writer.close();
  }
}

/**
 * What a container that ended while no agent ran wrote after its mark, into the log files (it
 * is removed next). Nothing without a mark of its own: an older agent's, whose lines are unknown.
 */
export async function catchUpLogs(container: Dockerode.Container, id: string, opts: FollowOptions): Promise<void> {
  const mark = readMark(opts.markFile, id);
  if (mark === undefined) return;
  const writer = new MarkedLogWriter(opts.logs, opts.markFile, mark);
  try {
    const bytes = (await container.logs({
      follow: false,
      stdout: true,
      stderr: true,
      timestamps: true,
      since: sinceOf(mark, true),
    })) as Buffer;
    writer.write(bytes);
  } finally {
    await writer.close();
  }
}
