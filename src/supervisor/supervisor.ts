/**
 * The Supervisor: keeps a set of processes running, each by its WatchSpec. It spawns them in
 * their own process groups, restarts them with backoff when they die, stops whole groups,
 * and takes over processes a previous supervisor (a previous agent) left running.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { NoopsError } from '../errors/index.js';
import { planRestart, type BackoffPolicy } from './backoff.js';
import { groupAlive, procAlive, procStat, signalGroup, startTimeToEpochMs, procStartTime } from './proc.js';
import { logPaths, spawnProcess } from './spawn.js';
import {
  DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS, DEFAULT_KILL_WAIT_MS, DEFAULT_POLL_MS, DEFAULT_STABLE_MS,
  STOP_POLL_MS,
  type AdoptRecord, type ProcessState, type ProcessStatus, type SupervisorEvents, type SupervisorOptions,
  type WatchSpec,
} from './types.js';
import { checkSpec } from './validate.js';

/** The supervisor's private record of one process. */
interface Entry {
  spec: WatchSpec;
  signal: NodeJS.Signals;
  state: ProcessState;
  since: number;
  reason: string;
  pid: number | null;
  startTime: number | null;
  startedAt: number | null;
  /** when it reached `up` (for adopted processes: when it started) */
  upAt: number | null;
  restarts: number;
  failedStarts: number;
  nextBackoffMs: number;
  adopted: boolean;
  child: ChildProcess | null;
  /** true once the exit of the spawned leader was seen (it is reaped) */
  leaderExited: boolean;
  lastExit: { code: number | null; signal: string | null };
  /** bumped by every launch, stop and detach: a callback of an older generation does nothing */
  gen: number;
  grace?: NodeJS.Timeout;
  backoff?: NodeJS.Timeout;
  poll?: NodeJS.Timeout;
  stopping: Promise<void> | null;
}

/**
 * Supervises processes. An EventEmitter: `state` (every state change, with a snapshot) and
 * `exit` (a process ended); listeners must not throw. It never emits `error`.
 *
 * @example
 *   const sup = new Supervisor();
 *   sup.on('state', (s) => console.log(s.id, s.state, s.reason));
 *   sup.start({ id: 'web', command: 'node server.js', cwd: dir, env: { PATH: process.env.PATH! },
 *     logDir: '/var/log/app', logName: 'web', stopSignal: 'SIGTERM', stopTimeoutMs: 10_000,
 *     startGraceMs: 2_000 });
 *   // later, in a new agent: sup.adopt(spec, { pid, startTime }) with what status() gave
 *   await sup.stopAll();
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #entries = new Map<string, Entry>();
  readonly #policy: BackoffPolicy;
  readonly #pollMs: number;
  readonly #killWaitMs: number;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.#policy = {
      backoffBaseMs: options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS,
      stableMs: options.stableMs ?? DEFAULT_STABLE_MS,
    };
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#killWaitMs = options.killWaitMs ?? DEFAULT_KILL_WAIT_MS;
  }

  /**
   * Starts a process and keeps it running. Throws NOOPS_E_INPUT for a bad spec or an id that
   * is already supervised and not stopped (a stopped one is replaced).
   */
  start(spec: WatchSpec): ProcessStatus {
    const entry = this.#add(spec);
    this.#launch(entry, 'started');
    return snapshot(entry);
  }

  /**
   * Takes over a process that a previous supervisor started, without restarting it, when
   * `/proc/<pid>/stat` shows the same start time (so the pid was not reused); otherwise starts
   * the spec fresh. Adopted processes are not our children: they are watched by polling, and
   * a death is restarted like any crash.
   */
  adopt(spec: WatchSpec, record: AdoptRecord): ProcessStatus {
    const entry = this.#add(spec);
    entry.restarts = record.restarts ?? 0;
    const why = notAdoptable(record);
    if (why !== null) {
      this.#launch(entry, `started: previous pid ${record.pid} ${why}`);
      return snapshot(entry);
    }
    const gen = ++entry.gen;
    entry.pid = record.pid;
    entry.startTime = record.startTime;
    entry.startedAt = startTimeToEpochMs(record.startTime) ?? Date.now();
    entry.upAt = entry.startedAt;
    entry.adopted = true;
    // Timers before the state event: a listener may call stop(), which must find them to clear.
    entry.poll = setInterval(() => {
      if (entry.gen === gen && entry.pid !== null && !procAlive(entry.pid, entry.startTime)) {
        this.#died(entry, gen, null, null, `adopted pid ${entry.pid} died (exit status unknown)`);
      }
    }, this.#pollMs);
    this.#setState(entry, 'up', `adopted running pid ${record.pid}`);
    return snapshot(entry);
  }

  /**
   * Stops a process: its stop signal to the whole process group, SIGKILL to the group after
   * `stopTimeoutMs`; resolves when no process of the group runs. A pending restart is
   * cancelled. Stopping an unknown or stopped id does nothing; concurrent calls share one stop.
   */
  stop(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.state === 'stopped') return Promise.resolve();
    if (entry.stopping !== null) return entry.stopping;
    entry.stopping = this.#stop(entry).finally(() => {
      entry.stopping = null;
    });
    return entry.stopping;
  }

  /** Stops every process, in parallel. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((id) => this.stop(id)));
  }

  /**
   * Forgets stopped processes (they leave `list()`). Ids that are not stopped are kept.
   * Returns how many were forgotten.
   */
  forget(...ids: string[]): number {
    let n = 0;
    for (const id of ids) {
      if (this.#entries.get(id)?.state === 'stopped' && this.#entries.delete(id)) n++;
    }
    return n;
  }

  /**
   * Lets go of every process without stopping it (an agent that exits for an upgrade): timers
   * end, children are unref'd, and the snapshots returned hold what a new supervisor's `adopt`
   * needs. Processes in backoff are not running and are simply dropped.
   */
  detach(): ProcessStatus[] {
    const out: ProcessStatus[] = [];
    for (const entry of this.#entries.values()) {
      out.push(snapshot(entry));
      entry.gen++;
      clearTimers(entry);
      entry.child?.unref();
      entry.child = null;
    }
    this.#entries.clear();
    return out;
  }

  /** A snapshot of one process, or undefined when the id is not supervised. */
  status(id: string): ProcessStatus | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : snapshot(entry);
  }

  /** Snapshots of every supervised process, in start order. */
  list(): ProcessStatus[] {
    return [...this.#entries.values()].map(snapshot);
  }

  #add(spec: WatchSpec): Entry {
    const signal = checkSpec(spec);
    const existing = this.#entries.get(spec.id);
    if (existing !== undefined && existing.state !== 'stopped') {
      throw new NoopsError('NOOPS_E_INPUT', `process "${spec.id}" is already supervised (${existing.state})`, {
        hint: 'stop it first, or give the new process another id',
      });
    }
    const entry: Entry = {
      spec: { ...spec, env: { ...spec.env }, meta: { ...(spec.meta ?? {}) } },
      signal,
      state: 'starting',
      since: Date.now(),
      reason: '',
      pid: null,
      startTime: null,
      startedAt: null,
      upAt: null,
      restarts: 0,
      failedStarts: 0,
      nextBackoffMs: this.#policy.backoffBaseMs,
      adopted: false,
      child: null,
      leaderExited: false,
      lastExit: { code: null, signal: null },
      gen: 0,
      stopping: null,
    };
    // Delete first so that a replaced id moves to the end of list().
    this.#entries.delete(spec.id);
    this.#entries.set(spec.id, entry);
    return entry;
  }

  /** Spawns the process of `entry` (first start or restart). */
  #launch(entry: Entry, reason: string): void {
    const gen = ++entry.gen;
    entry.adopted = false;
    entry.leaderExited = false;
    let child: ChildProcess;
    try {
      child = spawnProcess(entry.spec);
    } catch (err) {
      entry.state = 'starting';
      this.#died(entry, gen, null, null, `could not start: ${(err as Error).message}`);
      return;
    }
    const pid = child.pid ?? null;
    entry.child = child;
    entry.pid = pid;
    entry.startTime = pid === null ? null : procStartTime(pid);
    entry.startedAt = Date.now();
    entry.upAt = null;
    // 'error' without a pid: the spawn itself failed (e.g. no such cwd); with a pid, 'exit' follows.
    child.on('error', (err) => {
      if (pid === null) this.#died(entry, gen, null, null, `could not start: ${err.message}`);
    });
    child.once('exit', (code, signal) => this.#exited(entry, gen, code, signal));
    entry.grace = setTimeout(() => {
      if (entry.gen !== gen || entry.state !== 'starting' || entry.pid === null) return;
      entry.upAt = Date.now();
      entry.failedStarts = 0;
      this.#setState(entry, 'up', `alive for ${entry.spec.startGraceMs} ms`);
    }, entry.spec.startGraceMs);
    this.#setState(entry, 'starting', reason);
  }

  /** The spawned leader ended (it is reaped when this runs). */
  #exited(entry: Entry, gen: number, code: number | null, signal: string | null): void {
    if (entry.gen !== gen) return;
    entry.leaderExited = true;
    entry.child = null;
    entry.lastExit = { code, signal };
    if (entry.state === 'stopping') return; // #stop sees it and finishes
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    this.#died(entry, gen, code, signal, how);
  }

  /** A death that nobody asked for: clean up the group, then schedule a restart. */
  #died(entry: Entry, gen: number, code: number | null, signal: string | null, reason: string): void {
    if (entry.gen !== gen || (entry.state !== 'starting' && entry.state !== 'up')) return;
    clearTimers(entry);
    const pid = entry.pid;
    // The leader is gone; whatever it forked would otherwise run on unsupervised. Its group id
    // cannot be reused while any member remains, so this reaches only what it left behind.
    if (pid !== null) killRemnants(pid);
    const plan = planRestart(
      {
        state: entry.state,
        upForMs: entry.upAt === null ? null : Date.now() - entry.upAt,
        nextBackoffMs: entry.nextBackoffMs,
        failedStarts: entry.failedStarts,
      },
      this.#policy,
    );
    entry.nextBackoffMs = plan.nextBackoffMs;
    entry.failedStarts = plan.failedStarts;
    Object.assign(entry, { pid: null, startTime: null, startedAt: null, upAt: null, child: null, adopted: false });
    entry.backoff = setTimeout(() => {
      if (entry.gen !== gen || entry.state !== 'backoff') return;
      entry.restarts++;
      this.#launch(entry, `restart ${entry.restarts} after: ${reason}`);
    }, plan.delayMs);
    this.#setState(entry, 'backoff', `${reason}; restart in ${plan.delayMs} ms`);
    if (pid !== null) this.emit('exit', { id: entry.spec.id, pid, code, signal, requested: false, reason });
  }

  async #stop(entry: Entry): Promise<void> {
    clearTimers(entry);
    const pid = entry.pid;
    const { stopTimeoutMs } = entry.spec;
    if (pid === null) {
      // In backoff, or a spawn that is failing: nothing runs; make sure nothing will.
      entry.gen++;
      this.#setState(entry, 'stopped', `stopped by request (was ${entry.state})`);
      return;
    }
    this.#setState(entry, 'stopping', `sent ${entry.signal} to group ${pid}`);
    signalGroup(pid, entry.signal);
    let reason = `stopped by request (${entry.signal})`;
    if (!(await this.#waitGone(entry, pid, stopTimeoutMs))) {
      signalGroup(pid, 'SIGKILL');
      reason = `killed with SIGKILL: still running ${stopTimeoutMs} ms after ${entry.signal}`;
      if (!(await this.#waitGone(entry, pid, this.#killWaitMs))) {
        reason += `; group ${pid} still there ${this.#killWaitMs} ms after SIGKILL`;
      }
    }
    entry.gen++;
    entry.child?.unref();
    const { code, signal } = entry.adopted ? { code: null, signal: null } : entry.lastExit;
    Object.assign(entry, { pid: null, startTime: null, startedAt: null, upAt: null, child: null, adopted: false });
    this.emit('exit', { id: entry.spec.id, pid, code, signal, requested: true, reason });
    this.#setState(entry, 'stopped', reason);
  }

  /** Waits until neither the leader nor any process of its group runs; false at the deadline. */
  async #waitGone(entry: Entry, pid: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leaderRuns = entry.adopted ? procAlive(pid, entry.startTime) : !entry.leaderExited;
      if (!leaderRuns && !groupAlive(pid)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(STOP_POLL_MS);
    }
  }

  #setState(entry: Entry, state: ProcessState, reason: string): void {
    entry.state = state;
    entry.since = Date.now();
    entry.reason = reason;
    this.emit('state', snapshot(entry));
  }
}

/** Why a recorded process cannot be adopted, or null when it can. */
function notAdoptable(record: AdoptRecord): string | null {
  const stat = procStat(record.pid);
  if (stat === null || !procAlive(record.pid, null)) return 'is gone';
  if (stat.startTime !== record.startTime) return 'is another process now (start time differs)';
  if (stat.pgrp !== record.pid) return 'is not a process group leader, so not one we started';
  return null;
}

/** SIGKILL to what a dead leader left in its group; a failure here must not stop the restart. */
function killRemnants(pgid: number): void {
  try {
    signalGroup(pgid, 'SIGKILL');
  } catch {
    // EPERM: a member changed its credentials; it is no longer ours to kill.
  }
}

function clearTimers(entry: Entry): void {
  clearTimeout(entry.grace);
  clearTimeout(entry.backoff);
  clearInterval(entry.poll);
  entry.grace = entry.backoff = entry.poll = undefined;
}

function snapshot(entry: Entry): ProcessStatus {
  return {
    id: entry.spec.id,
    state: entry.state,
    pid: entry.pid,
    startTime: entry.startTime,
    startedAt: entry.startedAt,
    restarts: entry.restarts,
    failedStarts: entry.failedStarts,
    since: entry.since,
    reason: entry.reason,
    adopted: entry.adopted,
    logs: logPaths(entry.spec),
    meta: { ...(entry.spec.meta ?? {}) },
  };
}
