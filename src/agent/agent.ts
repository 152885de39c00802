/**
 * `noops agent`: the host daemon. Joins the server (once; the token is kept in ROOT/agent.json),
 * adopts the processes a previous agent left running, long-polls its desired state, reconciles,
 * and reports its actual state on every heartbeat and on every change.
 *
 * The agent knows the server only through the API client. When the server is away the host
 * keeps running what it runs, and the agent retries until it is back.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { ApiClient } from '../api/client.js';
import type { DesiredInstance, ProcessReport } from '../api/types.js';
import { NoopsError } from '../errors/index.js';
import type { SupervisorOptions } from '../supervisor/index.js';
import { CommandLoop } from './commands.js';
import { Control } from './control.js';
import { CtlServer } from './ctl-server.js';
import { Host } from './host.js';
import { detectStartFailures, reconcile } from './reconcile.js';
import { loadIdentity, saveIdentity } from './state.js';

/** Retry delays while the server is unreachable: fast at first, then every 5 s. */
export const RETRY_MIN_MS = 250;
export const RETRY_MAX_MS = 5000;
/** A state change is reported after this quiet time, so a burst of changes is one report. */
export const REPORT_DEBOUNCE_MS = 100;
/** Events sent per report at most: a flood of events cannot make a report too big. */
export const EVENTS_PER_REPORT = 200;

export interface AgentOptions {
  /** the server; undefined for a standalone agent (only the host's watches file) */
  server?: string;
  joinToken?: string;
  root: string;
  name: string;
  labels: Record<string, string>;
  log?: (line: string) => void;
  supervisor?: SupervisorOptions;
  /** the standalone watches file; default ROOT/watches.yaml */
  watchesFile?: string;
  /** called by `noops ctl nuke` once everything is stopped: the agent's process should exit */
  onNuke?: () => void;
}

export class Agent {
  readonly root: string;
  readonly name: string;
  readonly host: Host;
  private api: ApiClient;
  private heartbeatMs = 5000;
  private reportedSeq = 0;
  private ctl: CtlServer | undefined;
  private commands: CommandLoop | undefined;
  private desired: DesiredInstance[] | undefined;
  private desiredGeneration = -1;
  private stopped = false;
  private closed = false;
  private readonly abort = new AbortController();
  private reconciling: Promise<void> | undefined;
  private again = false;
  private reportTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: AgentOptions) {
    this.root = opts.root;
    this.name = opts.name;
    this.log = opts.log ?? ((line) => process.stderr.write(`noops agent ${opts.name}: ${line}\n`));
    this.host = new Host({ root: this.root, supervisor: opts.supervisor, watchesFile: opts.watchesFile, log: this.log });
    this.api = new ApiClient(opts.server ?? 'http://127.0.0.1:0');
    this.host.supervisor.on('state', () => this.scheduleReport());
    this.host.crons.on('change', () => this.scheduleReport());
  }

  /** True when the agent runs without a server. */
  get standalone(): boolean {
    return this.opts.server === undefined;
  }

  /**
   * Opens the control socket (refusing a root another agent runs on), adopts, joins, and starts
   * the loops. Resolves once joined (at once when standalone).
   */
  async start(): Promise<void> {
    const control = new Control(this.host, { nuke: () => this.nuke() });
    this.ctl = await CtlServer.listen(this.root, control, {
      afterNuke: () => void this.stop().then(() => this.opts.onNuke?.()),
    });
    await this.host.adoptAll();
    if (this.standalone) return;
    await this.join(false);
    this.commands = new CommandLoop(() => this.api, control, this.log, this.abort.signal);
    void this.commands.run();
    void this.desiredLoop();
    this.heartbeat();
  }

  /** Stops the agent's loops. The supervised processes keep running (a new agent adopts them). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.haltLoops();
    await this.ctl?.close();
    await this.reconciling;
    this.host.detach();
  }

  /** Stops every supervised process too (for tests and `noops ctl nuke`). */
  async stopAll(): Promise<void> {
    await this.nuke();
    await this.stop();
  }

  /** No more reconciling, reports or commands; what runs keeps running. */
  private haltLoops(): void {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.reportTimer);
    clearTimeout(this.heartbeatTimer);
  }

  /** `noops ctl nuke`: the loops end first (no deploy may start anything), then every watch stops. */
  private async nuke(): Promise<void> {
    this.log('nuke: stopping every watch and the agent');
    this.haltLoops();
    await this.reconciling;
    await this.host.nuke();
  }

  private async join(force: boolean): Promise<void> {
    const known = loadIdentity(this.root);
    if (!force && known && known.server === this.opts.server && known.name === this.name) {
      this.api = new ApiClient(known.server, known.token);
      try {
        await this.api.whoami();
        return;
      } catch (err) {
        if (!(err instanceof NoopsError && err.code === 'NOOPS_E_UNAUTHORIZED')) {
          if (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE') return; // keep the token, retry later
          throw err;
        }
      }
    }
    for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        const server = this.opts.server!;
        if (!this.opts.joinToken) throw new NoopsError('NOOPS_E_UNAUTHORIZED', 'the agent needs the server\'s join token to join');
        const res = await new ApiClient(server, this.opts.joinToken).join({ name: this.name, labels: this.opts.labels });
        this.heartbeatMs = res.heartbeatMs;
        saveIdentity(this.root, { server, name: this.name, token: res.token });
        this.api = new ApiClient(server, res.token);
        this.log(`joined ${this.opts.server}`);
        return;
      } catch (err) {
        if (!(err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE') || this.stopped) throw err;
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private async desiredLoop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      try {
        const ds = await this.api.desired(this.desiredGeneration, { signal: this.abort.signal });
        delay = RETRY_MIN_MS;
        if (ds.generation !== this.desiredGeneration || this.desired === undefined) {
          this.desiredGeneration = ds.generation;
          this.desired = ds.instances;
          this.kick();
        }
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof NoopsError && err.code === 'NOOPS_E_UNAUTHORIZED') {
          this.log('the server no longer knows this agent\'s token; joining again');
          await this.join(true).catch((e: Error) => this.log(`join failed: ${e.message}`));
          continue;
        }
        await sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  /** Runs reconcile now, or once more after the current run. */
  private kick(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = (async () => {
      do {
        this.again = false;
        const desired = this.desired ?? [];
        try {
          await reconcile({
            root: this.root,
            supervisor: this.host.supervisor,
            crons: this.host.crons,
            download: (url, dest) => this.download(url, dest),
            save: () => this.host.save(),
            log: this.log,
          }, this.host.state, desired, this.host.failures);
          this.host.state.generation = this.desiredGeneration;
          this.host.save();
        } catch (err) {
          this.log(`reconcile failed: ${(err as Error).stack ?? err}`);
        }
        this.scheduleReport();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.reconciling = undefined;
    });
  }

  private async download(url: string, dest: string): Promise<void> {
    const res = await this.api.download(url);
    if (!res.body) throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the server sent an empty body for ${url}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(dest));
  }

  private scheduleReport(): void {
    if (this.stopped || this.standalone || this.reportTimer) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      void this.report();
    }, REPORT_DEBOUNCE_MS);
  }

  private heartbeat(): void {
    if (this.stopped) return;
    void this.report().finally(() => {
      if (!this.stopped) this.heartbeatTimer = setTimeout(() => this.heartbeat(), this.heartbeatMs);
    });
  }

  /** Sends the actual state: every process of every instance, the failures, metrics and new events. */
  async report(): Promise<void> {
    const host = this.host;
    detectStartFailures(host.supervisor, host.state, host.failures, this.root);
    if (host.recordAll()) host.save();
    const events = host.eventReports(this.reportedSeq, EVENTS_PER_REPORT);
    try {
      const answer = await this.api.report({
        processes: host.processes(), failures: [...host.failures.values()], generation: host.state.generation,
        metrics: host.metrics(this.name, Math.round(this.heartbeatMs / 1000)), events, crons: host.cronReports(),
      });
      if (events.length > 0) this.reportedSeq = events[events.length - 1]!.seq;
      if (answer.heartbeatMs !== undefined && answer.heartbeatMs >= 100) this.heartbeatMs = answer.heartbeatMs;
    } catch (err) {
      if (!(err instanceof NoopsError && (err.code === 'NOOPS_E_SERVER_UNREACHABLE' || err.code === 'NOOPS_E_UNAUTHORIZED'))) {
        this.log(`report failed: ${(err as Error).message}`);
      }
    }
  }

  /** What runs, per process, as the agent would report it. */
  processes(): ProcessReport[] {
    return this.host.processes();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
