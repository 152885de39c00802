/**
 * The simulated fleet, seen from the benchmark: N agents spread over a few worker processes
 * (worker.ts), started, watched and stopped together.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism, getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import type { FromWorker, ToWorker, WindowSamples } from './protocol.js';

/** Agents per worker process. One process's event loop carries a few thousand agents' long
 * polls and heartbeats with little delay; more workers spread them, and their sockets. */
export const AGENTS_PER_WORKER = 2500;

/** At most this many workers for the machine's cores alone (a fleet under 2,500 agents). */
const MAX_CORE_WORKERS = 4;

/**
 * How many worker processes carry `n` agents: one per AGENTS_PER_WORKER, and at least one per
 * core of the machine (up to MAX_CORE_WORKERS, at most one per agent): the agents' own CPU (peers
 * sending and checking pieces) is spread over every core. With one worker, a 10 MB release to
 * 1,000 simulated hosts took 19.8-20.4 s with one core idle; with two, 13.1 s; three on two cores,
 * 15.1 s (docs/benchmarks.md, session 16). `NOOPS_BENCH_FLEET_WORKERS` sets the number.
 */
export function workersFor(n: number, env = process.env.NOOPS_BENCH_FLEET_WORKERS, cores = availableParallelism()): number {
  const asked = Number(env);
  if (Number.isInteger(asked) && asked > 0) return Math.min(asked, Math.max(1, n));
  return Math.max(1, Math.ceil(n / AGENTS_PER_WORKER), Math.min(cores, MAX_CORE_WORKERS, n));
}

/**
 * How much below its parent the workers run (nice). Simulated agents share this machine's cores
 * with the server; real ones run on their own machines and take nothing from it. At 10,000 the
 * four workers took about 1.4 of the two cores at the same priority, the server got the rest and
 * fell behind the heartbeats alone. A higher nice leaves the server the core it would have, and
 * the agents the time it does not use. `NOOPS_BENCH_FLEET_WORKER_NICE=0` runs them level.
 */
export const WORKER_NICE = 10;

function lowerPriority(pid: number | undefined): void {
  const by = Number(process.env.NOOPS_BENCH_FLEET_WORKER_NICE ?? WORKER_NICE);
  if (pid === undefined || !Number.isInteger(by) || by <= 0) return;
  try {
    setPriority(pid, Math.min(19, getPriority() + by));
  } catch {
    // not allowed here: they run level with the server
  }
}

const WORKER = new URL('./worker.ts', import.meta.url).pathname;
/** tsx, resolved from here: the workers then start from any working directory. */
const TSX = import.meta.resolve('tsx');

type Waiter = { type: FromWorker['type']; resolve(m: FromWorker): void; reject(e: Error): void };

class WorkerHandle {
  private readonly waiters: Waiter[] = [];
  private exited: Error | undefined;

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromWorker) => {
      if (m.type === 'error') return this.fail(new Error(`fleet worker ${child.pid}: ${m.message}`));
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    });
    child.on('exit', (code, signal) => this.fail(new Error(`fleet worker ${child.pid} exited (${signal ?? code})`)));
  }

  private fail(err: Error): void {
    this.exited ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** Waits for the next message of `type`; register before sending what causes it. */
  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve: resolve as (m: FromWorker) => void, reject }));
  }

  send(msg: ToWorker): void {
    this.child.send(msg);
  }

  async ask<T extends FromWorker['type']>(msg: ToWorker, type: T): Promise<Extract<FromWorker, { type: T }>> {
    const reply = this.next(type);
    this.send(msg);
    return reply;
  }
}

export interface FleetOptions {
  server: string;
  joinToken: string;
  /** host names, one agent each */
  names: string[];
  /** a folder for the agents' roots (one sub-folder each) and the workers' logs */
  dir: string;
}

/** What every agent of the fleet saw of one release. */
export interface Reached {
  /** per agent, when it received the desired state naming the release (ms since the epoch) */
  received: number[];
  /** per agent, when it first reported every process of the release up */
  up: number[];
  /** package bytes the agents downloaded, and how many downloads */
  downloadBytes: number;
  downloads: number;
  /** tickets the agents' peer servers took: by an Ed25519 signature check, and keyed (a MAC) */
  tickets: { signed: number; keyed: number };
}

export class Fleet {
  private constructor(
    private readonly workers: WorkerHandle[],
    readonly size: number,
  ) {}

  /** Starts the workers and joins every agent; throws when any agent could not join. */
  static async start(opts: FleetOptions): Promise<Fleet> {
    const count = workersFor(opts.names.length);
    const workers: WorkerHandle[] = [];
    for (let i = 0; i < count; i++) {
      // NOOPS_BENCH_PROFILE=DIR: each worker writes a V8 CPU profile there when it exits (unless
      // NOOPS_BENCH_PROFILE_WORKERS=0: profiling slows them, and at 10,000 agents that changes the run).
      const profile =
        process.env.NOOPS_BENCH_PROFILE && process.env.NOOPS_BENCH_PROFILE_WORKERS !== '0'
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NOOPS_BENCH_PROFILE}`]
          : [];
      // NOOPS_BENCH_WORKER_NODE_ARGS='--flag ...': node flags for the workers, to compare settings
      const flags = (process.env.NOOPS_BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
      // the agent's built code, as a host runs it (agent-code.ts); NOOPS_BENCH_AGENT_CODE=src: the sources
      const child = fork(WORKER, [], {
        execArgv: ['--import', TSX, ...profile, ...flags],
        env: { ...process.env, NOOPS_BENCH_AGENT_CODE: process.env.NOOPS_BENCH_AGENT_CODE ?? 'dist' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      lowerPriority(child.pid);
      workers.push(new WorkerHandle(child));
    }
    const fleet = new Fleet(workers, opts.names.length);
    try {
      const started = await Promise.all(
        workers.map((w, i) =>
          w.ask(
            {
              type: 'start',
              server: opts.server,
              joinToken: opts.joinToken,
              names: opts.names.filter((_, k) => k % count === i),
              rootBase: join(opts.dir, 'agents'),
              logFile: join(opts.dir, `worker-${i}.log`),
            },
            'started',
          ),
        ),
      );
      const failed = started.flatMap((s) => s.failed);
      if (failed.length > 0) throw new Error(`${failed.length}+ agents could not join, e.g. ${failed.slice(0, 3).join('; ')}`);
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  /** The worker processes' ids (to read their CPU time). */
  pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  /** Starts a measurement window in every worker. */
  async window(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.ask({ type: 'window' }, 'window')));
  }

  /** Ends the window: every worker's samples. */
  async collect(): Promise<WindowSamples[]> {
    return (await Promise.all(this.workers.map((w) => w.ask({ type: 'collect' }, 'samples')))).map((m) => m.samples);
  }

  /**
   * Arms every worker to watch for `version` of `tag`; answers a promise that resolves once
   * every agent received it and reported it up. Call `go` after this resolves, then await it.
   */
  async watch(tag: string, version: string, timeoutMs: number): Promise<() => Promise<Reached>> {
    const reached = this.workers.map((w) => w.next('reached'));
    await Promise.all(this.workers.map((w) => w.ask({ type: 'watch', tag, version }, 'watching')));
    return async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          void this.status().then((why) =>
            reject(new Error(`not every agent reported ${version} up within ${timeoutMs / 1000} s: ${why}`)),
          );
        }, timeoutMs);
      });
      try {
        const all = await Promise.race([Promise.all(reached), timeout]);
        return {
          received: all.flatMap((r) => r.received),
          up: all.flatMap((r) => r.up),
          downloadBytes: all.reduce((s, r) => s + r.downloads.bytes, 0),
          downloads: all.reduce((s, r) => s + r.downloads.count, 0),
          tickets: {
            signed: all.reduce((s, r) => s + (r.downloads.signedTickets ?? 0), 0),
            keyed: all.reduce((s, r) => s + (r.downloads.keyedTickets ?? 0), 0),
          },
        };
      } finally {
        clearTimeout(timer);
      }
    };
  }

  /** Where a watch stands in every worker, in words (for the error of a watch that timed out). */
  private async status(): Promise<string> {
    const STATUS_WAIT_MS = 60_000; // workers of thousands of agents answer late on a loaded machine
    const all = await Promise.race([
      Promise.all(this.workers.map((w) => w.ask({ type: 'status' }, 'status'))).then((m) => m.map((x) => x.status)),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), STATUS_WAIT_MS).unref()),
    ]).catch(() => undefined);
    if (!all) return 'the workers did not say how far they got';
    const sum = (k: 'agents' | 'received' | 'up') => all.reduce((s, x) => s + x[k], 0);
    const notReceived = all.flatMap((x) => x.notReceived).slice(0, 5);
    const notUp = all.flatMap((x) => x.notUp).slice(0, 5);
    return [
      `${sum('received')} of ${sum('agents')} received it, ${sum('up')} reported it up`,
      notReceived.length > 0 && `not received, e.g. ${notReceived.join(', ')}`,
      notUp.length > 0 && `received, not up, e.g. ${notUp.map((x) => `${x.name} (${x.last})`).join('; ')}`,
    ]
      .filter(Boolean)
      .join('; ');
  }

  /** Stops every agent and worker. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        const exited = new Promise((r) => w.child.once('exit', r));
        try {
          await Promise.race([w.ask({ type: 'stop' }, 'stopped'), new Promise((r) => setTimeout(r, 10_000))]);
        } catch {
          // it exited already
        }
        // It exits by itself once its agents stopped (writing its CPU profile, if asked for one).
        const t = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
