/**
 * The command channel: the server cannot reach agents (they long-poll it), so a person's
 * `noops restart` or `noops logs` becomes a command queued for the host. The agent's command
 * long poll takes it, the agent posts its output and its end, and the CLI long-polls the
 * command for output. All in memory: a command lives minutes, not across server restarts (with
 * several servers, the CLI and the agent must reach the same one, as with the desired-state hub).
 *
 *   CLI --POST /commands--> queued --agent polls--> running --agent posts output--> done|failed
 *                              \--no agent in PICKUP_MS--> expired     CLI DELETE / goes away --> cancelled
 */
import { NoopsError } from '../errors/index.js';
import type { AgentCommand, CommandAction, CommandStatus, CommandUpdate, CommandView } from '../api/index.js';
import { DesiredHub } from './hub.js';

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

const ENDED: readonly CommandStatus[] = ['done', 'failed', 'cancelled', 'expired'];

/**
 * The commands people queued for agents, with their output, in memory: queued until the host's
 * agent takes them, running while it posts output, then kept RETAIN_MS for a last read.
 *
 * @example
 *   const queue = new AgentCommandQueue(hub);
 *   const cmd = queue.create({ host: 'web-1', action: 'restart', tag, process: null, lines: 0, follow: false, initiator: 'alice' });
 *   queue.takeQueued('web-1');                // what the agent's long poll hands it
 *   queue.update('web-1', cmd.id, { done: true });
 *   (await queue.read(cmd.id, 0, 0)).status;  // 'done'
 */
export class AgentCommandQueue {
  readonly #commands = new Map<number, Command>();
  /** wakes agents waiting for commands, by host */
  readonly #agents: DesiredHub;
  /** wakes CLIs waiting for output, by command id */
  readonly #readers = new DesiredHub();
  #next = 1;

  /**
   * @param agents the hub that wakes a host's agent: the server passes the desired-state hub, so
   *   that a command wakes the one long poll an agent holds (GET /agent/desired?commands=1)
   */
  constructor(agents: DesiredHub = new DesiredHub()) {
    this.#agents = agents;
  }

  /** Queues a command for a host and wakes its agent. */
  create(req: {
    host: string;
    action: CommandAction;
    tag: string;
    process: string | null;
    lines: number;
    follow: boolean;
    initiator: string;
  }): CommandView {
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
        this.#end(
          cmd,
          'expired',
          new NoopsError(
            'NOOPS_E_COMMAND_TIMEOUT',
            `the agent of ${cmd.host} did not take the command within ${PICKUP_MS / 1000} s`,
          ).toJSON(),
        );
      }
    }, PICKUP_MS);
    cmd.timer.unref();
    this.#agents.notify(cmd.host);
    return this.#view(cmd, 0);
  }

  /** The commands queued for `host`, now running; waits up to `waitMs` for one (the agent's long poll). */
  async take(host: string, waitMs: number, signal?: AbortSignal): Promise<AgentCommand[]> {
    if (!this.hasQueued(host)) await this.#agents.wait(host, waitMs, signal);
    if (signal?.aborted) return [];
    return this.takeQueued(host);
  }

  /** Whether a command waits for `host`'s agent. */
  hasQueued(host: string): boolean {
    return this.#queued(host).length > 0;
  }

  /** The commands queued for `host`, now running (handed to its agent). */
  takeQueued(host: string): AgentCommand[] {
    return this.#queued(host).map((cmd) => {
      cmd.status = 'running';
      this.#readers.notify(String(cmd.id));
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
    this.#readers.notify(String(cmd.id));
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
    this.#agents.notifyAll();
    this.#readers.notifyAll();
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
    this.#readers.notify(String(cmd.id));
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

/** The answer for a command that does not exist, or that the caller may not see: the same words. */
export function commandNotFound(id: number): NoopsError {
  return new NoopsError('NOOPS_E_NOT_FOUND', `no command #${id} (commands are kept ${RETAIN_MS / 60_000} minutes after they end)`);
}
