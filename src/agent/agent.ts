/**
 * `noops agent`: the host daemon. Joins the server (once; the token is kept in ROOT/agent.json),
 * adopts the processes a previous agent left running, long-polls its desired state, reconciles,
 * and reports its actual state on every heartbeat and on every change.
 *
 * The agent knows the server only through the API client. When the server is away the host
 * keeps running what it runs, and the agent retries until it is back.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { fenceNodePackageScope } from '../release/index.js';
import { pipeline } from 'node:stream/promises';
import { Readable, type Writable } from 'node:stream';
import { ApiClient } from '../api/client.js';
import type { AgentReport, DesiredInstance, DesiredState, ProcessReport } from '../api/types.js';
import { NoopsError } from '../errors/index.js';
import { Supervisor, type SupervisorOptions } from '../supervisor/index.js';
import { healthCheckOf } from '../release/index.js';
import { HealthMonitor } from './health.js';
import type { ProcessSupervisor, ReleaseStore } from './host.js';
import { detectStartFailures, processId, recordPids, reconcile, watchSpec, type Failures } from './reconcile.js';
import { loadIdentity, loadState, saveIdentity, saveState, type AgentState } from './state.js';

/** Retry delays while the server is unreachable: fast at first, then every 5 s. */
export const RETRY_MIN_MS = 250;
export const RETRY_MAX_MS = 5000;
/** A state change is reported after this quiet time, so a burst of changes is one report. */
export const REPORT_DEBOUNCE_MS = 100;

export interface AgentOptions {
  server: string;
  joinToken: string;
  root: string;
  name: string;
  labels: Record<string, string>;
  log?: (line: string) => void;
  supervisor?: SupervisorOptions;
  /**
   * The host's processes and releases: by default a real `Supervisor` and releases on disk.
   * The fleet benchmark passes simulated ones (see src/agent/host.ts).
   */
  host?: { supervisor?: ProcessSupervisor; releases?: ReleaseStore };
  /** told of each desired state received and each report sent (benchmarks, tests) */
  observer?: AgentObserver;
}

/** Hooks into the agent's protocol, called synchronously; they must not throw. */
export interface AgentObserver {
  desired?(state: DesiredState): void;
  reported?(report: AgentReport): void;
}

export class Agent {
  readonly root: string;
  readonly name: string;
  private api: ApiClient;
  private readonly state: AgentState;
  private readonly failures: Failures = new Map();
  private readonly health: HealthMonitor;
  private readonly supervisor: ProcessSupervisor;
  private heartbeatMs = 5000;
  private desired: DesiredInstance[] | undefined;
  private desiredGeneration = -1;
  private stopped = false;
  private readonly abort = new AbortController();
  private reconciling: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private reportTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: AgentOptions) {
    this.root = opts.root;
    this.name = opts.name;
    this.log = opts.log ?? ((line) => process.stderr.write(`noops agent ${opts.name}: ${line}\n`));
    mkdirSync(this.root, { recursive: true, mode: 0o755 });
    fenceNodePackageScope(this.root);
    this.state = loadState(this.root);
    this.supervisor = opts.host?.supervisor ?? new Supervisor(opts.supervisor);
    this.api = new ApiClient(opts.server);
    this.supervisor.on('state', () => this.scheduleReport());
    this.health = new HealthMonitor({ onChange: () => this.scheduleReport() });
  }

  /** Joins, adopts, and starts the loops. Resolves once joined. */
  async start(): Promise<void> {
    this.adoptAll();
    await this.join(false);
    void this.desiredLoop();
    this.heartbeat();
  }

  /** Stops the agent's loops. The supervised processes keep running (a new agent adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.reportTimer);
    clearTimeout(this.heartbeatTimer);
    this.health.stop();
    clearTimeout(this.retryTimer);
    await this.reconciling;
    this.supervisor.detach();
  }

  /** Stops every supervised process too (for tests and `noops ctl nuke`). */
  async stopAll(): Promise<void> {
    await this.stop();
    await this.supervisor.stopAll();
  }

  private async join(force: boolean): Promise<void> {
    const known = loadIdentity(this.root);
    if (!force && known && known.server === this.opts.server && known.name === this.name) {
      this.api = new ApiClient(this.opts.server, known.token);
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
        const res = await new ApiClient(this.opts.server, this.opts.joinToken).join({ name: this.name, labels: this.opts.labels });
        this.heartbeatMs = res.heartbeatMs;
        saveIdentity(this.root, { server: this.opts.server, name: this.name, token: res.token });
        this.api = new ApiClient(this.opts.server, res.token);
        this.log(`joined ${this.opts.server}`);
        return;
      } catch (err) {
        if (!(err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE') || this.stopped) throw err;
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Takes over the processes the previous agent left running, by pid and start time. */
  private adoptAll(): void {
    for (const inst of Object.values(this.state.instances)) {
      for (const spec of inst.desired.manifest.processes) {
        const ws = watchSpec(this.root, inst, spec, inst.ports[spec.name]);
        const rec = inst.processes[spec.name];
        if (rec) this.supervisor.adopt(ws, rec);
        else this.supervisor.start(ws);
      }
      recordPids(this.supervisor, inst);
    }
    this.save();
  }

  private async desiredLoop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      try {
        const ds = await this.api.desired(this.desiredGeneration, { signal: this.abort.signal });
        delay = RETRY_MIN_MS;
        this.opts.observer?.desired?.(ds);
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
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.reconciling = (async () => {
      let retry = false;
      do {
        this.again = false;
        retry = false;
        const desired = this.desired ?? [];
        try {
          await reconcile({
            root: this.root,
            supervisor: this.supervisor,
            releases: this.opts.host?.releases,
            download: (url, dest) => this.download(url, dest),
            save: () => this.save(),
            log: this.log,
            retryLater: () => { retry = true; },
          }, this.state, desired, this.failures);
          if (!retry) this.state.generation = this.desiredGeneration;
          this.save();
        } catch (err) {
          this.log(`reconcile failed: ${(err as Error).stack ?? err}`);
        }
        this.scheduleReport();
      } while (this.again && !this.stopped);
      // A release that could not be fetched (the server away or overloaded) is tried again
      // later, spread out so that a whole fleet does not come back at the same instant.
      if (retry && !this.stopped) {
        this.retryTimer = setTimeout(() => this.kick(), this.retryDelay * (0.5 + Math.random()));
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      } else {
        this.retryDelay = RETRY_MIN_MS;
      }
    })().finally(() => {
      this.reconciling = undefined;
    });
  }

  private async download(url: string, dest: string | Writable): Promise<void> {
    const res = await this.api.download(url);
    if (!res.body) throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the server sent an empty body for ${url}`);
    const source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    let broken: Error | undefined;
    source.once('error', (err) => { broken = err; });
    const sink = typeof dest === 'string' ? createWriteStream(dest) : dest;
    try {
      await pipeline(source, sink);
    } catch (err) {
      // The connection broke off mid-way: the server's trouble, not the package's.
      if (broken) throw new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `the download of ${url} from ${this.opts.server} broke off: ${broken.message}`, { cause: err });
      throw err;
    }
  }

  private save(): void {
    saveState(this.root, this.state);
  }

  private scheduleReport(): void {
    if (this.stopped || this.reportTimer) return;
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

  /** Sends the actual state: every process of every instance, and the failures. */
  async report(): Promise<void> {
    detectStartFailures(this.supervisor, this.state, this.failures, this.root);
    let changed = false;
    for (const inst of Object.values(this.state.instances)) changed = recordPids(this.supervisor, inst) || changed;
    if (changed) this.save();
    this.checkHealth();
    try {
      const report: AgentReport = { processes: this.processes(), failures: [...this.failures.values()], generation: this.state.generation };
      await this.api.report(report);
      this.opts.observer?.reported?.(report);
    } catch (err) {
      if (!(err instanceof NoopsError && (err.code === 'NOOPS_E_SERVER_UNREACHABLE' || err.code === 'NOOPS_E_UNAUTHORIZED'))) {
        this.log(`report failed: ${(err as Error).message}`);
      }
    }
  }

  /** Keeps the health checks in step with what runs: each running process of each instance. */
  private checkHealth(): void {
    const ids = new Set<string>();
    for (const inst of Object.values(this.state.instances)) {
      for (const spec of inst.desired.manifest.processes) {
        const id = processId(inst.desired.tag, spec.name);
        const s = this.supervisor.status(id);
        if (!s || s.pid === null || (s.state !== 'up' && s.state !== 'starting')) continue;
        const ws = watchSpec(this.root, inst, spec, inst.ports[spec.name]);
        ids.add(id);
        this.health.watch(id, `${s.pid}:${s.startTime}:${inst.desired.version}`, healthCheckOf(spec), {
          port: inst.ports[spec.name] ?? null, cwd: ws.cwd, env: ws.env,
        });
      }
    }
    this.health.retain(ids);
  }

  /** What runs, per process, as the agent would report it. */
  processes(): ProcessReport[] {
    const out: ProcessReport[] = [];
    for (const inst of Object.values(this.state.instances)) {
      for (const spec of inst.desired.manifest.processes) {
        const s = this.supervisor.status(processId(inst.desired.tag, spec.name));
        const checked = healthCheckOf(spec).type !== 'none';
        const h = this.health.status(processId(inst.desired.tag, spec.name));
        // without a check, a process is healthy once it is up (since it became up)
        const health = checked ? (h?.health ?? 'starting') : s?.state === 'up' ? 'healthy' : 'starting';
        const since = checked ? (h?.healthySince ?? null) : s?.state === 'up' ? s.since : null;
        out.push({
          tag: inst.desired.tag,
          process: spec.name,
          version: inst.desired.version,
          state: s?.state ?? 'stopped',
          pid: s?.pid ?? null,
          port: inst.ports[spec.name] ?? null,
          restarts: s?.restarts ?? 0,
          startedAt: s?.startedAt ? new Date(s.startedAt).toISOString() : null,
          error: s && s.state !== 'up' && s.state !== 'starting' ? s.reason : null,
          health,
          healthySince: health === 'healthy' && since !== null ? new Date(since).toISOString() : null,
          healthError: health === 'unhealthy' ? (h?.error ?? null) : null,
          ...(inst.downloaded === undefined ? {} : { downloaded: inst.downloaded }),
        });
      }
    }
    return out;
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
