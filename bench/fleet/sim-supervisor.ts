/**
 * A simulated process supervisor for the fleet benchmark: the same surface and states as the
 * real `Supervisor` (starting -> up after the start grace, stopping -> stopped), and no process.
 * Ten thousand agents in one benchmark process cannot each run a real process; what the server
 * sees (reports, states, timings of the start grace) stays what a real host would send.
 */
import { EventEmitter } from 'node:events';
import type { ProcessSupervisor } from '../../src/agent/index.js';
import type { AdoptRecord, ProcessEvent, ProcessState, ProcessStatus, SupervisorEvents, WatchSpec } from '../../src/supervisor/index.js';
import { logPaths, NoopsError } from './agent-code.js';

/** Simulated pids start here, far above Linux's pid_max (4,194,304), so none is mistaken for a real one. */
const FIRST_SIM_PID = 10_000_000;
let nextPid = FIRST_SIM_PID;

interface Entry {
  spec: WatchSpec;
  status: ProcessStatus;
  grace?: NodeJS.Timeout;
}

export interface SimSupervisorOptions {
  /** how long a simulated stop takes (a real one: the signal, then the group leaving) */
  stopMs?: number;
}

export class SimSupervisor extends EventEmitter<SupervisorEvents> implements ProcessSupervisor {
  readonly #entries = new Map<string, Entry>();
  readonly #stopMs: number;

  constructor(opts: SimSupervisorOptions = {}) {
    super();
    this.#stopMs = opts.stopMs ?? 0;
  }

  start(spec: WatchSpec): ProcessStatus {
    const entry = this.#add(spec);
    this.#run(entry, 'started');
    return { ...entry.status };
  }

  adopt(spec: WatchSpec, record: AdoptRecord): ProcessStatus {
    const entry = this.#add(spec);
    Object.assign(entry.status, { pid: record.pid, startTime: record.startTime, restarts: record.restarts ?? 0, adopted: true });
    this.#set(entry, 'up', `adopted running pid ${record.pid}`);
    return { ...entry.status };
  }

  async stop(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry || entry.status.state === 'stopped') return;
    clearTimeout(entry.grace);
    this.#set(entry, 'stopping', 'stop requested');
    if (this.#stopMs > 0) await new Promise((r) => setTimeout(r, this.#stopMs));
    const pid = entry.status.pid ?? 0;
    Object.assign(entry.status, { pid: null, startTime: null, startedAt: null });
    this.#set(entry, 'stopped', 'stopped by request');
    this.emit('exit', { id, pid, code: null, signal: entry.spec.stopSignal, requested: true, reason: 'stopped by request' });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((id) => this.stop(id)));
  }

  forget(...ids: string[]): number {
    let n = 0;
    for (const id of ids) if (this.#entries.get(id)?.status.state === 'stopped' && this.#entries.delete(id)) n++;
    return n;
  }

  detach(): ProcessStatus[] {
    const out = [...this.#entries.values()].map((e) => {
      clearTimeout(e.grace);
      return { ...e.status };
    });
    this.#entries.clear();
    return out;
  }

  status(id: string): ProcessStatus | undefined {
    const entry = this.#entries.get(id);
    return entry && { ...entry.status };
  }

  /** Held: known and stopped, as a person's `noops ctl stop` leaves it across an agent restart. */
  hold(spec: WatchSpec, reason = 'stopped by request'): ProcessStatus {
    const entry = this.#add(spec);
    this.#set(entry, 'stopped', reason);
    return { ...entry.status };
  }

  async restart(id: string, why = 'restarted by request'): Promise<ProcessStatus | undefined> {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    await this.stop(id);
    this.#run(entry, why);
    return { ...entry.status };
  }

  resume(id: string): ProcessStatus | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (entry.status.pid === null) this.#run(entry, 'started by request');
    return { ...entry.status };
  }

  /** Nothing to signal: a simulated process has no group. */
  signal(id: string): void {
    if (this.#entries.get(id)?.status.pid == null) throw new NoopsError('NOOPS_E_INPUT', `process "${id}" is not running`);
  }

  /** A simulated process records no events (no crash, no condition). */
  events(): ProcessEvent[] {
    return [];
  }

  spec(id: string): WatchSpec | undefined {
    return this.#entries.get(id)?.spec;
  }

  list(): ProcessStatus[] {
    return [...this.#entries.values()].map((e) => ({ ...e.status }));
  }

  #add(spec: WatchSpec): Entry {
    const existing = this.#entries.get(spec.id);
    if (existing && existing.status.state !== 'stopped') {
      throw new NoopsError('NOOPS_E_INPUT', `process "${spec.id}" is already supervised (${existing.status.state})`);
    }
    const now = Date.now();
    const entry: Entry = {
      spec,
      status: {
        id: spec.id,
        state: 'starting',
        pid: null,
        startTime: null,
        startedAt: null,
        restarts: 0,
        failedStarts: 0,
        since: now,
        reason: '',
        adopted: false,
        logs: logPaths(spec),
        meta: { ...(spec.meta ?? {}) },
        retryAt: null,
        lastExit: null,
        restartPolicy: spec.restart ?? 'always',
      },
    };
    this.#entries.set(spec.id, entry);
    return entry;
  }

  /** A simulated spawn: a pid now, `up` once the start grace has passed. */
  #run(entry: Entry, reason: string): void {
    const pid = nextPid++;
    Object.assign(entry.status, { pid, startTime: pid, startedAt: Date.now() });
    entry.grace = setTimeout(() => this.#set(entry, 'up', `alive for ${entry.spec.startGraceMs} ms`), entry.spec.startGraceMs);
    this.#set(entry, 'starting', reason);
  }

  #set(entry: Entry, state: ProcessState, reason: string): void {
    Object.assign(entry.status, { state, reason, since: Date.now() });
    this.emit('state', { ...entry.status });
  }
}
