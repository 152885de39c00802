/**
 * The Supervisor: keeps a set of processes running, each by its WatchSpec. It spawns them in
 * their own process groups, restarts them by their restart policy with backoff, calls a crash
 * loop flapping, runs their conditions, rotates their logs, stops whole groups, and takes over
 * processes a previous supervisor (a previous agent) left running.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { NoopsError } from '../errors/index.js';
import { ConditionRunner } from './condition-runner.js';
import type { ConditionSpec } from './conditions.js';
import {
  clearProcess,
  clearTimers,
  killRemnants,
  newRecord,
  notAdoptable,
  running,
  snapshot,
  type ProcessRecord,
} from './process-record.js';
import { ContainerLifecycle } from './container-lifecycle.js';
import { retargetLoopback } from './runner.js';
import { EventRing } from './events.js';
import { LogRotator } from './logs.js';
import { decideConditionRestart, decideEnd, decisionWords, freshBook, type Decision } from './restart-decisions.js';
import { normalizeSignal, procAlive, procStartTime, signalGroup, startTimeToEpochMs } from './proc.js';
import { logPaths, spawnProcess } from './spawn.js';
import { terminate } from './terminate.js';
import {
  DEFAULT_LOG_POLICY,
  withDefaults,
  type AdoptRecord,
  type EventKind,
  type ProcessEvent,
  type ProcessState,
  type ProcessStatus,
  type SupervisorEvents,
  type SupervisorOptions,
  type WatchSpec,
} from './types.js';
import { claimFolders, spawnIdentity } from './user.js';
import { checkSpec } from './validate.js';

/**
 * Supervises processes. An EventEmitter: `state` (every state change, with a snapshot), `exit`
 * (a process ended) and `event` (something worth recording); listeners must not throw. It
 * never emits `error`.
 *
 * @example
 *   const sup = new Supervisor();
 *   sup.on('state', (s) => console.log(s.id, s.state, s.reason));
 *   sup.start({ id: 'web', command: 'node server.js', cwd: dir, env: { PATH: process.env.PATH! },
 *     logDir: '/var/log/app', logName: 'web', stopSignal: 'SIGTERM', stopTimeoutMs: 10_000,
 *     startGraceMs: 2_000, restart: 'always' });
 *   // later, in a new agent: sup.adopt(spec, { pid, startTime }) with what status() gave
 *   await sup.stopAll();
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #entries = new Map<string, ProcessRecord>();
  readonly #opts: Required<Omit<SupervisorOptions, 'containers'>>;
  readonly #containers: ContainerLifecycle;
  readonly #events: EventRing;
  readonly #rotator: LogRotator;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.#opts = withDefaults(options);
    this.#containers = new ContainerLifecycle(options.containers, {
      record: (entry, kind, message) => this.#record(entry, kind, message),
      setState: (entry, state, reason) => this.#setState(entry, state, reason),
      ended: (entry, gen, code, reason) => this.#ended(entry, gen, code, null, reason),
      toUp: (entry, gen, upAt, reason) => this.#toUp(entry, gen, upAt, reason),
      launch: (entry, reason, kind) => this.#launch(entry, reason, kind),
      exit: (event) => this.emit('exit', event),
    });
    this.#events = new EventRing(this.#opts.eventsKept);
    this.#rotator = new LogRotator(this.#opts.logCheckMs, () =>
      [...this.#entries.values()].map((e) => ({ paths: logPaths(e.spec), policy: e.logPolicy })),
    );
  }

  /**
   * Starts a process and keeps it running. Throws NOOPS_E_INPUT for a bad spec, a user it
   * cannot run as, or an id that is already supervised and not stopped (a stopped one is replaced).
   */
  start(spec: WatchSpec): ProcessStatus {
    const entry = this.#add(spec);
    this.#launch(entry, 'started', 'started');
    return snapshot(entry);
  }

  /**
   * Knows a process without starting it (state `stopped`), e.g. one a person stopped, which
   * must stay stopped across an agent restart; `resume` starts it.
   */
  hold(spec: WatchSpec, reason = 'stopped by request'): ProcessStatus {
    const entry = this.#add(spec);
    this.#setState(entry, 'stopped', reason);
    return snapshot(entry);
  }

  /**
   * Takes over a process that a previous supervisor started, without restarting it, when
   * `/proc/<pid>/stat` shows the same start time (so the pid was not reused); otherwise starts
   * the spec fresh. Adopted processes are not our children: they are watched by polling, and
   * a death is handled like any other.
   */
  adopt(spec: WatchSpec, record: AdoptRecord): ProcessStatus {
    const entry = this.#addAdopted(spec, record);
    entry.restarts = record.restarts ?? 0;
    if (entry.spec.container) return this.#containers.adopt(entry);
    const why = notAdoptable(record);
    if (why !== null) {
      this.#launch(entry, `started: previous pid ${record.pid} ${why}`, 'started');
      return snapshot(entry);
    }
    const gen = ++entry.gen;
    Object.assign(entry, { pid: record.pid, startTime: record.startTime, adopted: true });
    entry.startedAt = startTimeToEpochMs(record.startTime) ?? Date.now();
    // Timers before the state event: a listener may call stop(), which must find them to clear.
    entry.poll = setInterval(() => {
      if (entry.gen === gen && entry.pid !== null && !procAlive(entry.pid, entry.startTime)) {
        this.#ended(entry, gen, null, null, `adopted pid ${entry.pid} died (exit status unknown)`);
      }
    }, this.#opts.pollMs);
    this.#record(entry, 'adopted', `adopted running pid ${record.pid}`);
    this.#toUp(entry, gen, entry.startedAt, `adopted running pid ${record.pid}`);
    return snapshot(entry);
  }

  /**
   * Stops a process: its stop command or stop signal to the whole process group, SIGKILL to
   * the group after `stopTimeoutMs`; resolves when no process of the group runs. A pending
   * restart is cancelled; a restart in progress ends stopped. Unknown or stopped ids do nothing.
   */
  stop(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.state === 'stopped') return Promise.resolve();
    entry.wantStop = true;
    if (entry.op !== null) {
      const again = (): Promise<void> => this.stop(id);
      return entry.op.then(again, again);
    }
    return this.#run(entry, async () => {
      const reason = await this.#terminate(entry);
      this.#record(entry, 'stopped', reason);
      this.#setState(entry, 'stopped', reason);
    });
  }

  /** Stops every process, in parallel. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((id) => this.stop(id)));
  }

  /**
   * Stops the process (if one runs) and starts it again with a fresh restart history. Resolves
   * with the new snapshot, or undefined for an unknown id.
   */
  async restart(id: string, why = 'restarted by request'): Promise<ProcessStatus | undefined> {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.op !== null) await entry.op.catch(() => undefined);
    entry.wantStop = false;
    await this.#run(entry, async () => {
      await this.#terminate(entry);
      entry.book = freshBook();
      if (!entry.wantStop) this.#launch(entry, why, 'started');
    });
    return snapshot(entry);
  }

  /**
   * Starts a process that is not running (stopped, exited, flapping, or waiting in backoff) at
   * once, with a fresh restart history. A running process is left alone.
   */
  resume(id: string): ProcessStatus | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.op === null && !running(entry)) {
      entry.wantStop = false;
      entry.book = freshBook();
      this.#launch(entry, 'started by request', 'started');
    }
    return snapshot(entry);
  }

  /** Sends a signal to the process's whole group. Throws NOOPS_E_INPUT when nothing runs. */
  signal(id: string, name: string): void {
    const entry = this.#entries.get(id);
    const sig = normalizeSignal(name);
    if (sig === null) throw new NoopsError('NOOPS_E_INPUT', `"${name}" is not a signal (e.g. HUP, USR1, TERM)`);
    if (entry === undefined || !running(entry))
      throw new NoopsError('NOOPS_E_INPUT', `process "${id}" is not running (${entry?.state ?? 'unknown'})`);
    if (entry.container) void entry.container.signal(sig);
    else signalGroup(entry.pid!, sig);
  }

  /** Forgets stopped processes (they leave `list()`). Returns how many were forgotten. */
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
   * needs. Processes that are not running are simply dropped.
   */
  detach(): ProcessStatus[] {
    const out: ProcessStatus[] = [];
    for (const entry of this.#entries.values()) {
      out.push(snapshot(entry));
      entry.gen++;
      clearTimers(entry);
      entry.child?.unref();
      entry.child = null;
      entry.container?.release();
      entry.container = null;
    }
    this.#entries.clear();
    this.#rotator.stop();
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

  /** The recorded events after sequence number `seq` (of one process when `id` is given), oldest first. */
  events(seq = 0, id?: string): ProcessEvent[] {
    return this.#events.since(seq, id);
  }

  /** The spec a process runs by, or undefined. */
  spec(id: string): WatchSpec | undefined {
    return this.#entries.get(id)?.spec;
  }

  /**
   * `#add` for adopt: a process that runs already is taken over even when the spec's user is
   * refused now (root no longer allowed, or not known to be); only starting it again is refused.
   */
  #addAdopted(spec: WatchSpec, record: AdoptRecord): ProcessRecord {
    try {
      return this.#add(spec);
    } catch (err) {
      if (!(err instanceof NoopsError && err.code === 'NOOPS_E_ROOT_NOT_ALLOWED') || notAdoptable(record) !== null) throw err;
      const entry = this.#add({ ...spec, allowRoot: undefined });
      entry.refusal = err;
      return entry;
    }
  }

  #add(spec: WatchSpec): ProcessRecord {
    const signal = checkSpec(spec);
    const existing = this.#entries.get(spec.id);
    if (existing !== undefined && existing.state !== 'stopped') {
      throw new NoopsError('NOOPS_E_INPUT', `process "${spec.id}" is already supervised (${existing.state})`, {
        hint: 'stop it first, or give the new process another id',
      });
    }
    const entry = newRecord(spec, {
      signal,
      runAs: spawnIdentity(spec.user, spec.allowRoot),
      restartPolicy: spec.restart ?? 'always',
      flapping: spec.flapping === undefined ? this.#opts.flapping : spec.flapping,
      logPolicy: spec.logs ?? DEFAULT_LOG_POLICY,
    });
    claimFolders(spec.writable ?? [], entry.runAs);
    // Delete first so that a replaced id moves to the end of list().
    this.#entries.delete(spec.id);
    this.#entries.set(spec.id, entry);
    this.#rotator.start();
    return entry;
  }

  /** Runs a stop or restart of `entry`, so that others wait for it. */
  #run(entry: ProcessRecord, fn: () => Promise<void>): Promise<void> {
    const op = fn().finally(() => {
      if (entry.op === op) entry.op = null;
    });
    entry.op = op;
    return op;
  }

  /** Spawns the process of `entry` (first start or restart). */
  #launch(entry: ProcessRecord, reason: string, kind: EventKind): void {
    if (entry.spec.container) {
      this.#containers.launch(entry, reason, kind);
      return;
    }
    const gen = ++entry.gen;
    clearTimers(entry);
    Object.assign(entry, { adopted: false, leaderExited: false, retryAt: null });
    let child: ChildProcess;
    try {
      if (entry.refusal) throw entry.refusal;
      child = spawnProcess(entry.spec, entry.runAs);
    } catch (err) {
      entry.state = 'starting';
      this.#ended(entry, gen, null, null, `could not start: ${(err as Error).message}`);
      return;
    }
    const pid = child.pid ?? null;
    Object.assign(entry, { child, pid, startTime: pid === null ? null : procStartTime(pid), startedAt: Date.now(), upAt: null });
    // 'error' without a pid: the spawn itself failed (e.g. no such cwd); with a pid, 'exit' follows.
    child.on('error', (err) => {
      if (pid === null) this.#ended(entry, gen, null, null, `could not start: ${err.message}`);
    });
    child.once('exit', (code, signal) => this.#exited(entry, gen, code, signal));
    entry.grace = setTimeout(() => {
      if (entry.gen !== gen || entry.state !== 'starting' || entry.pid === null) return;
      this.#toUp(entry, gen, Date.now(), `alive for ${entry.spec.startGraceMs} ms`);
    }, entry.spec.startGraceMs);
    this.#record(entry, kind, reason);
    this.#setState(entry, 'starting', reason);
  }

  /** The process counts as `up`: its conditions start. */
  #toUp(entry: ProcessRecord, gen: number, upAt: number, reason: string): void {
    entry.upAt = upAt;
    entry.book = { ...entry.book, failedStarts: 0 };
    const conditions = entry.spec.conditions ?? [];
    if (conditions.length > 0 && entry.pid !== null) {
      entry.runner = new ConditionRunner(
        retargetLoopback(conditions, entry.container?.address ?? null),
        { pid: entry.pid, cwd: entry.spec.cwd, env: entry.spec.env, runAs: entry.runAs },
        (c, message) => this.#conditionFired(entry, gen, c, message),
      );
      entry.runner.start();
    }
    this.#setState(entry, 'up', reason);
  }

  /** The spawned leader ended (it is reaped when this runs). */
  #exited(entry: ProcessRecord, gen: number, code: number | null, signal: string | null): void {
    if (entry.gen !== gen) return;
    entry.leaderExited = true;
    entry.child = null;
    entry.exitStatus = { code, signal };
    if (entry.state === 'stopping') return; // #terminate sees it and finishes
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    this.#ended(entry, gen, code, signal, how);
  }

  /** A process ended that nobody asked to stop: clean up its group, then do what the policy says. */
  #ended(entry: ProcessRecord, gen: number, code: number | null, signal: string | null, reason: string): void {
    if (entry.gen !== gen || (entry.state !== 'starting' && entry.state !== 'up')) return;
    clearTimers(entry);
    const { pid, state } = entry;
    const now = Date.now();
    // What the leader forked would run on unsupervised; the group id is not reused while it lives.
    if (pid !== null && entry.container === null) killRemnants(pid);
    const { decision, book } = decideEnd({ state, upForMs: entry.upAt === null ? null : now - entry.upAt, code, signal, now }, entry.book, {
      ...this.#opts,
      restart: entry.restartPolicy,
      flapping: entry.flapping,
    });
    entry.book = book;
    entry.lastExit = { code, signal, at: now, reason };
    clearProcess(entry);
    if (decision.action !== 'exit') this.#record(entry, 'crash', reason);
    this.#decide(entry, gen, decision, reason);
    if (pid !== null) this.emit('exit', { id: entry.spec.id, pid, code, signal, requested: false, reason });
  }

  /** Executes a decision about a process that is not running any more. */
  #decide(entry: ProcessRecord, gen: number, decision: Decision, reason: string): void {
    if (decision.action === 'restart' || decision.action === 'flap') {
      const [state, delay, why] =
        decision.action === 'restart'
          ? ['backoff' as const, decision.delayMs, `${reason}; restart in ${decision.delayMs} ms`]
          : ['flapping' as const, decision.retryInMs, decisionWords(decision, entry.flapping!, reason)];
      if (state === 'flapping') {
        entry.retryAt = Date.now() + delay;
        this.#record(entry, 'flapping', why);
      }
      const again = (): void => {
        if (entry.gen !== gen || entry.state !== state) return;
        entry.restarts++;
        this.#launch(
          entry,
          state === 'backoff' ? `restart ${entry.restarts} after: ${reason}` : `retry after flapping (last: ${reason})`,
          'restart',
        );
      };
      // At once means in this turn of the loop (a 0 ms timer waits at least 1 ms); a stop
      // meanwhile bumps the generation, which the callback checks.
      if (delay === 0) setImmediate(again);
      else entry.timer = setTimeout(again, delay);
      this.#setState(entry, state, why);
      return;
    }
    const [kind, state, why] =
      decision.action === 'exit'
        ? ['exited' as const, 'exited' as const, `${reason} (${decision.why})`]
        : ['given-up' as const, 'flapping' as const, decisionWords(decision, entry.flapping!, reason)];
    this.#record(entry, kind, why);
    this.#setState(entry, state, why);
  }

  /** A condition fired on an `up` process. */
  #conditionFired(entry: ProcessRecord, gen: number, c: ConditionSpec, message: string): void {
    if (entry.gen !== gen || entry.state !== 'up' || entry.op !== null) return;
    this.#record(entry, 'condition', `${message}${c.action === 'restart' ? '; restarting' : ''}`);
    if (c.action !== 'restart') return;
    const { decision, book } = decideConditionRestart(entry.book, Date.now(), entry.flapping);
    entry.book = book;
    void this.#run(entry, async () => {
      await this.#terminate(entry, `restarting: ${message}`);
      if (entry.wantStop) return;
      if (decision.action === 'restart') {
        entry.restarts++;
        this.#launch(entry, `restart ${entry.restarts} after: ${message}`, 'restart');
      } else {
        this.#decide(entry, entry.gen, decision, message);
      }
    });
  }

  /**
   * Ends the running process (if any) and waits until its group is gone; the state is
   * `stopping` meanwhile and the caller sets the next one. Returns the reason, in words.
   */
  async #terminate(entry: ProcessRecord, why?: string): Promise<string> {
    clearTimers(entry);
    entry.retryAt = null;
    if (entry.container) return this.#containers.terminate(entry, entry.container, why);
    // a container being started or adopted: the stop waits for it and ends it (a stop always wins)
    const coming = entry.spec.container ? this.#containers.claim(entry) : null;
    const handle = coming === null ? null : await coming;
    if (handle !== null) return this.#containers.terminate(entry, handle, why);
    const pid = entry.pid;
    if (pid === null) {
      // In backoff, flapping, exited, or a spawn that is failing: nothing runs; make sure nothing will.
      entry.gen++;
      return `stopped by request (was ${entry.state})`;
    }
    this.#setState(
      entry,
      'stopping',
      why ?? (entry.spec.stopCommand ? `ran the stop command for ${pid}` : `sent ${entry.signal} to group ${pid}`),
    );
    const reason = await terminate(entry, pid, this.#opts.killWaitMs);
    entry.gen++;
    entry.child?.unref();
    const { code, signal } = entry.adopted ? { code: null, signal: null } : entry.exitStatus;
    entry.lastExit = { code, signal, at: Date.now(), reason };
    clearProcess(entry);
    this.emit('exit', { id: entry.spec.id, pid, code, signal, requested: true, reason });
    return reason;
  }

  #record(entry: ProcessRecord, kind: EventKind, message: string): void {
    this.emit('event', this.#events.push(entry.spec.id, kind, message));
  }

  #setState(entry: ProcessRecord, state: ProcessState, reason: string): void {
    entry.state = state;
    entry.since = Date.now();
    entry.reason = reason;
    this.emit('state', snapshot(entry));
  }
}
