/**
 * The command channel: the server cannot reach agents (they long-poll it), so a person's
 * `noops restart` or `noops logs` becomes a command queued for the host. The agent's command
 * long poll takes it, the agent posts its output and its end, and the CLI long-polls the
 * command for output.
 *
 *   CLI --POST /commands--> queued --agent polls--> running --agent posts output--> done|failed
 *                              \--no agent in PICKUP_MS--> expired     CLI DELETE / goes away --> cancelled
 *
 * Two queues behind one interface (`CommandQueue`), chosen by the store:
 * - SQLite (one server, `noops up`): `AgentCommandQueue` here, in memory. A command lives
 *   minutes, and a server alone has no one to share it with; memory keeps an agent's output post
 *   and a reader's poll free of disk writes (a `logs -f` of a chatty process posts every few
 *   hundred milliseconds), and `noops up` works exactly as before.
 * - PostgreSQL (any number of servers, issue 14): `StoredCommandQueue`
 *   (agent-commands-stored.ts): commands and output chunks in the database, so a command
 *   queued through server A reaches the agent polling B and its output is read through C; the
 *   change bus (`commands` channel) wakes the parked polls on every server.
 * Both keep the same rules and limits (the constants below), and the routes await either.
 */
import { NoopsError } from '../errors/index.js';
import type { AgentCommand, CommandAction, CommandStatus, CommandUpdate, CommandView } from '../api/index.js';
import { Waiters } from '../bus/index.js';

/** 30 s for an agent to take a command: its long poll takes it at once when the host is up. */
export const PICKUP_MS = 30_000;
/** 60 s without a poll from the CLI cancels a command (a `logs -f` whose terminal was closed). */
export const IDLE_MS = 60_000;
/** 5 minutes: an ended command can still be read this long, then it is forgotten. */
export const RETAIN_MS = 5 * 60_000;
/** 1 MiB of unread output per command: a reader that falls behind loses the oldest, not the server's memory. */
export const MAX_OUTPUT = 1024 * 1024;
/**
 * Commands waiting for one host's agent at most. A person queues a few at a time; a script
 * looping over `noops restart` against a host whose agent is down would otherwise queue without
 * end (each waits PICKUP_MS). 64 is far past any person and bounds the memory of a dead host.
 */
export const COMMANDS_QUEUED_PER_HOST = 64;

interface Command {
  id: number;
  host: string;
  action: CommandAction;
  tag: string;
  process: string | null;
  lines: number;
  follow: boolean;
  initiator: string;
  createdAt: string;
  status: CommandStatus;
  output: string;
  /** offset of output[0] in the whole output */
  base: number;
  result: unknown;
  error: CommandView['error'];
  lastRead: number;
  timer?: NodeJS.Timeout;
}

/** The statuses a command does not leave. */
export const ENDED: readonly CommandStatus[] = ['done', 'failed', 'cancelled', 'expired'];

/** What `create` is given: the command as the person asked for it. */
export interface NewCommand {
  host: string;
  action: CommandAction;
  tag: string;
  process: string | null;
  lines: number;
  follow: boolean;
  initiator: string;
}

/** A value, or a promise of it: the in-memory queue answers at once, the stored one after a query. */
export type Awaitable<T> = T | Promise<T>;

/**
 * The commands people queued for agents, with their output: what the routes use (they await
 * every answer). `AgentCommandQueue` (memory, one server) and `StoredCommandQueue` (the store,
 * several servers) implement it.
 */
export interface CommandQueue {
  /** Queues a command for a host and wakes its agent; NOOPS_E_COMMANDS_FULL past COMMANDS_QUEUED_PER_HOST. */
  create(req: NewCommand): Awaitable<CommandView>;
  /** The commands queued for `host`, now running; waits up to `waitMs` for one (the agent's long poll). */
  take(host: string, waitMs: number, signal?: AbortSignal): Promise<AgentCommand[]>;
  /** Resolves once a command waits for `host`'s agent, after `waitMs`, or when `signal` aborts. */
  waitQueued(host: string, waitMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `wake` once a command waits for `host`'s agent: at once (before returning) when one
   * waits now, else at the next queued for it; with the error if the store could not be read.
   * The cheap wait of a parked agent poll (no promise, timer or listener). Undo with `unparkQueued`.
   */
  parkQueued(host: string, wake: (err?: Error) => void): void;
  /** Takes back a `parkQueued` that was not woken. */
  unparkQueued(host: string, wake: (err?: Error) => void): void;
  /** Whether a command waits for `host`'s agent. */
  hasQueued(host: string): Awaitable<boolean>;
  /** The commands queued for `host`, now running (handed to its agent). */
  takeQueued(host: string): Awaitable<AgentCommand[]>;
  /** An agent's update of one of its commands; answers whether the person cancelled it. */
  update(host: string, id: number, u: CommandUpdate): Awaitable<{ cancelled: boolean }>;
  /** A command and its output after `offset`; waits up to `waitMs` for new output or the end. */
  read(id: number, offset: number, waitMs: number, signal?: AbortSignal): Promise<CommandView>;
  /** The person does not want it any more; the agent stops at its next update. */
  cancel(id: number): Awaitable<CommandView>;
  /** A command without its output (for authorization). */
  peek(id: number): Awaitable<CommandView>;
  /** Stops timers and wakes every waiter (server shutdown). */
  close(): void;
}

/**
 * The commands people queued for agents, with their output, in memory: queued until the host's
 * agent takes them, running while it posts output, then kept RETAIN_MS for a last read.
 *
 * @example
 *   const queue = new AgentCommandQueue();
 *   const cmd = queue.create({ host: 'web-1', action: 'restart', tag, process: null, lines: 0, follow: false, initiator: 'alice' });
 *   queue.takeQueued('web-1');                // what the agent's long poll hands it
 *   queue.update('web-1', cmd.id, { done: true });
 *   (await queue.read(cmd.id, 0, 0)).status;  // 'done'
 */
export class AgentCommandQueue implements CommandQueue {
  readonly #commands = new Map<number, Command>();
  /** wakes agents waiting for commands, by host (the agent's desired-state poll waits here too) */
  readonly #agents = new Waiters();
  /** wakes CLIs waiting for output, by command id */
  readonly #readers = new Waiters();
  #next = 1;

  /** Queues a command for a host and wakes its agent. */
  create(req: NewCommand): CommandView {
    if (this.#queued(req.host).length >= COMMANDS_QUEUED_PER_HOST) {
      throw new NoopsError('NOOPS_E_COMMANDS_FULL', `${COMMANDS_QUEUED_PER_HOST} commands already wait for the agent of ${req.host}`);
    }
    const cmd: Command = {
      ...req,
      id: this.#next++,
      createdAt: new Date().toISOString(),
      status: 'queued',
      output: '',
      base: 0,
      result: null,
      error: null,
      lastRead: Date.now(),
    };
    this.#commands.set(cmd.id, cmd);
    cmd.timer = setTimeout(() => {
      if (cmd.status === 'queued') {
        this.#end(cmd, 'expired', expiredError(cmd.host));
      }
    }, PICKUP_MS);
    cmd.timer.unref();
    this.#agents.wake(cmd.host);
    return this.#view(cmd, 0);
  }

  /** The commands queued for `host`, now running; waits up to `waitMs` for one (the agent's long poll). */
  async take(host: string, waitMs: number, signal?: AbortSignal): Promise<AgentCommand[]> {
    await this.waitQueued(host, waitMs, signal);
    if (signal?.aborted) return [];
    return this.takeQueued(host);
  }

  /** Resolves once a command waits for `host`'s agent, after `waitMs`, or when `signal` aborts. */
  async waitQueued(host: string, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (!this.hasQueued(host)) await this.#agents.wait(host, waitMs, signal);
  }

  parkQueued(host: string, wake: (err?: Error) => void): void {
    if (this.hasQueued(host)) wake();
    else this.#agents.park(host, wake);
  }

  unparkQueued(host: string, wake: (err?: Error) => void): void {
    this.#agents.unpark(host, wake);
  }

  /** Whether a command waits for `host`'s agent. */
  hasQueued(host: string): boolean {
    return this.#queued(host).length > 0;
  }

  /** The commands queued for `host`, now running (handed to its agent). */
  takeQueued(host: string): AgentCommand[] {
    return this.#queued(host).map((cmd) => {
      cmd.status = 'running';
      this.#readers.wake(String(cmd.id));
      return { id: cmd.id, action: cmd.action, tag: cmd.tag, process: cmd.process, lines: cmd.lines, follow: cmd.follow };
    });
  }

  /** An agent's update of one of its commands; answers whether the person cancelled it. */
  update(host: string, id: number, u: CommandUpdate): { cancelled: boolean } {
    const cmd = this.#commands.get(id);
    if (cmd === undefined || cmd.host !== host) throw new NoopsError('NOOPS_E_NOT_FOUND', `no command #${id} for host ${host}`);
    if (ENDED.includes(cmd.status)) return { cancelled: true };
    if (cmd.follow && Date.now() - cmd.lastRead > IDLE_MS) {
      this.#end(cmd, 'cancelled', null);
      return { cancelled: true };
    }
    if (u.output) {
      cmd.output += u.output;
      if (cmd.output.length > MAX_OUTPUT) {
        const drop = cmd.output.length - MAX_OUTPUT;
        cmd.output = cmd.output.slice(drop);
        cmd.base += drop;
      }
    }
    if (u.result !== undefined) cmd.result = u.result;
    if (u.error) this.#end(cmd, 'failed', u.error);
    else if (u.done) this.#end(cmd, 'done', null);
    this.#readers.wake(String(cmd.id));
    return { cancelled: false };
  }

  /**
   * A command and its output after `offset`; waits up to `waitMs` for new output or the end.
   * Throws NOOPS_E_NOT_FOUND for an unknown (or forgotten) id.
   */
  async read(id: number, offset: number, waitMs: number, signal?: AbortSignal): Promise<CommandView> {
    let cmd = this.#get(id);
    cmd.lastRead = Date.now();
    if (!ENDED.includes(cmd.status) && cmd.base + cmd.output.length <= offset) {
      await this.#readers.wait(String(id), waitMs, signal);
      cmd = this.#get(id);
      cmd.lastRead = Date.now();
    }
    return this.#view(cmd, offset);
  }

  /** The person does not want it any more; the agent stops at its next update. */
  cancel(id: number): CommandView {
    const cmd = this.#get(id);
    if (!ENDED.includes(cmd.status)) this.#end(cmd, 'cancelled', null);
    return this.#view(cmd, cmd.base + cmd.output.length);
  }

  /** A command without its output (for authorization). */
  peek(id: number): CommandView {
    const cmd = this.#get(id);
    return this.#view(cmd, cmd.base + cmd.output.length);
  }

  #get(id: number): Command {
    const cmd = this.#commands.get(id);
    if (cmd === undefined) throw commandNotFound(id);
    return cmd;
  }

  /** Ends every command and wakes every waiter (server shutdown). */
  close(): void {
    for (const cmd of this.#commands.values()) clearTimeout(cmd.timer);
    this.#agents.wakeAll();
    this.#readers.wakeAll();
  }

  #queued(host: string): Command[] {
    return [...this.#commands.values()].filter((c) => c.host === host && c.status === 'queued');
  }

  #end(cmd: Command, status: CommandStatus, error: CommandView['error']): void {
    cmd.status = status;
    cmd.error = error;
    clearTimeout(cmd.timer);
    cmd.timer = setTimeout(() => this.#commands.delete(cmd.id), RETAIN_MS);
    cmd.timer.unref();
    this.#readers.wake(String(cmd.id));
  }

  #view(cmd: Command, offset: number): CommandView {
    const from = Math.max(0, offset - cmd.base);
    return {
      id: cmd.id,
      host: cmd.host,
      action: cmd.action,
      tag: cmd.tag,
      process: cmd.process,
      status: cmd.status,
      initiator: cmd.initiator,
      createdAt: cmd.createdAt,
      output: cmd.output.slice(from),
      offset: cmd.base + cmd.output.length,
      result: cmd.result,
      error: cmd.error,
    };
  }
}

/** The error of a command no agent took within PICKUP_MS. */
export function expiredError(host: string): CommandView['error'] {
  return new NoopsError('NOOPS_E_COMMAND_TIMEOUT', `the agent of ${host} did not take the command within ${PICKUP_MS / 1000} s`).toJSON();
}

/** The answer for a command that does not exist, or that the caller may not see: the same words. */
export function commandNotFound(id: number): NoopsError {
  return new NoopsError('NOOPS_E_NOT_FOUND', `no command #${id} (commands are kept ${RETAIN_MS / 60_000} minutes after they end)`);
}
