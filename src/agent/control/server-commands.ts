/**
 * The agent's side of the command channel: runs each command a person queued for this host
 * (`noops restart`, `noops logs`) through Control, and posts its output and its end. The commands
 * arrive with the desired state (one long poll per agent, see Agent.desiredLoop). A `logs -f`
 * streams until the server says the person cancelled or went away.
 */
import type { ApiClient } from '../../api/index.js';
import type { AgentCommand, VolumeReport } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { Control } from './control.js';

/** 250 ms: followed output is sent at most this often, so a chatty log is a few posts a second. */
export const FLUSH_MS = 250;
/** 5 s: with nothing to send, a follow still asks this often whether the person is still there. */
export const KEEPALIVE_MS = 5_000;
/** 64 KiB: a bigger batch of followed output is sent at once. */
const FLUSH_BYTES = 64 * 1024;

/** The container engine's volumes of this host (agent/containers' EngineRunner). */
export interface HostVolumes {
  volumes(): Promise<VolumeReport[]>;
  removeVolume(name: string): Promise<VolumeReport>;
}

export class CommandLoop {
  constructor(
    private readonly api: () => ApiClient,
    private readonly control: Control,
    private readonly log: (line: string) => void,
    private readonly signal: AbortSignal,
    /** the host's container volumes (`noops volume ls|rm`); absent: no engine on this agent */
    private readonly volumes?: HostVolumes,
  ) {}

  /** Runs one command; its failure is posted as the command's error, never thrown. */
  async execute(cmd: AgentCommand): Promise<void> {
    const api = this.api();
    const query = cmd.process === null ? cmd.tag : `${cmd.tag}/${cmd.process}`;
    try {
      if (cmd.action === 'volumes' || cmd.action === 'volume-rm') {
        if (!this.volumes) throw new NoopsError('NOOPS_E_CONTAINER', 'this agent runs no container engine');
        const result = cmd.action === 'volumes' ? await this.volumes.volumes() : await this.volumes.removeVolume(cmd.process ?? '');
        await api.updateCommand(cmd.id, { result, done: true });
      } else if (cmd.action === 'restart') {
        const result = await this.control.restart(query);
        await api.updateCommand(cmd.id, { result, done: true });
      } else if (!cmd.follow) {
        await api.updateCommand(cmd.id, { output: this.control.logTail(query, cmd.lines), done: true });
      } else {
        await this.follow(api, cmd, query);
      }
    } catch (err) {
      const e = err instanceof NoopsError ? err : new NoopsError('NOOPS_E_INTERNAL', (err as Error).message);
      this.log(`command #${cmd.id} (${cmd.action} ${query}) failed: ${e.message}`);
      await api.updateCommand(cmd.id, { error: e.toJSON() }).catch(() => undefined);
    }
  }

  private async follow(api: ApiClient, cmd: AgentCommand, query: string): Promise<void> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    this.signal.addEventListener('abort', onAbort, { once: true });
    let pending = this.control.logTail(query, cmd.lines);
    let lastSent = 0;
    // One post at a time, in order: output must reach the reader as it was written.
    let chain: Promise<void> = Promise.resolve();
    const flush = (): Promise<void> =>
      (chain = chain.then(async () => {
        const output = pending;
        pending = '';
        lastSent = Date.now();
        const answer = await api.updateCommand(cmd.id, { output });
        if (answer.cancelled) stop.abort();
      }));
    // Output comes in bursts; a timer sends what gathered and asks whether anyone still reads.
    const timer = setInterval(() => {
      if (pending.length > 0 || Date.now() - lastSent >= KEEPALIVE_MS) void flush().catch(() => stop.abort());
    }, FLUSH_MS);
    try {
      await flush();
      for await (const chunk of this.control.logFollow(query, stop.signal)) {
        pending += chunk;
        if (pending.length >= FLUSH_BYTES) await flush();
      }
    } finally {
      clearInterval(timer);
      this.signal.removeEventListener('abort', onAbort);
    }
    await chain.catch(() => undefined);
    await api.updateCommand(cmd.id, { output: pending, done: true }).catch(() => undefined);
  }
}
