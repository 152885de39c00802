/**
 * The container side of the supervisor's seam: launch, death, adoption and stop of a spec with
 * a `container` part, through a `ContainerRunner`. The Supervisor keeps the policies (restart,
 * backoff, flapping, conditions); this file only starts, follows and ends containers, and calls
 * back into the Supervisor exactly where a spawned process group would.
 */
import { procStartTime } from './proc.js';
import { clearProcess, clearTimers, snapshot, type ProcessRecord } from './process-record.js';
import type { ContainerHandle, ContainerRunner, ContainerSpec } from './runner.js';
import type { EventKind, ExitEvent, ProcessState, ProcessStatus, WatchSpec } from './types.js';

/** The Supervisor's private steps this file calls. */
export interface SupervisorSteps {
  record(entry: ProcessRecord, kind: EventKind, message: string): void;
  setState(entry: ProcessRecord, state: ProcessState, reason: string): void;
  /** a death nobody asked for: the restart policy decides */
  ended(entry: ProcessRecord, gen: number, code: number | null, reason: string): void;
  toUp(entry: ProcessRecord, gen: number, upAt: number, reason: string): void;
  launch(entry: ProcessRecord, reason: string, kind: EventKind): void;
  exit(event: ExitEvent): void;
}

type ContainerWatch = WatchSpec & { container: ContainerSpec };

/** A start or an adoption under way: the container it gives (null: none), and whether a stop took it over. */
interface InFlight {
  handle: Promise<ContainerHandle | null>;
  claimed: boolean;
}

export class ContainerLifecycle {
  readonly #inFlight = new WeakMap<ProcessRecord, InFlight>();

  constructor(
    private readonly runner: ContainerRunner | undefined,
    private readonly steps: SupervisorSteps,
  ) {}

  /** Starts the container in the background; a stop meanwhile removes it once it is there. */
  launch(entry: ProcessRecord, reason: string, kind: EventKind): void {
    const gen = ++entry.gen;
    clearTimers(entry);
    Object.assign(entry, { adopted: false, leaderExited: false, retryAt: null, startedAt: Date.now(), upAt: null });
    this.steps.record(entry, kind, reason);
    this.steps.setState(entry, 'starting', reason);
    const started = entry.refusal
      ? Promise.reject(entry.refusal)
      : this.runner === undefined
        ? Promise.reject(new Error('this supervisor has no container engine'))
        : this.runner.start(entry.spec as ContainerWatch, entry.runAs);
    const flight = this.#fly(entry, started);
    started.then(
      (handle) => {
        if (!this.#land(entry, flight)) return; // a stop took it over: the stop ends it
        if (entry.gen !== gen) {
          void handle.stop(entry.signal, 0).catch(() => undefined);
          return;
        }
        this.#attach(entry, gen, handle);
        entry.grace = setTimeout(() => {
          if (entry.gen !== gen || entry.state !== 'starting') return;
          this.steps.toUp(entry, gen, Date.now(), `alive for ${entry.spec.startGraceMs} ms`);
        }, entry.spec.startGraceMs);
        this.steps.setState(entry, 'starting', `container ${handle.id.slice(0, 12)} at ${handle.address ?? 'no address'}`);
      },
      (err: Error) => {
        if (this.#land(entry, flight)) this.steps.ended(entry, gen, null, `could not start: ${err.message}`);
      },
    );
  }

  /** Takes over the running container of a previous supervisor (found by its labels, not restarted), else starts one. */
  adopt(entry: ProcessRecord): ProcessStatus {
    const gen = ++entry.gen;
    this.steps.setState(entry, 'starting', 'looking for its running container');
    const found = this.runner?.adopt(entry.spec as ContainerWatch) ?? Promise.resolve(null);
    const flight = this.#fly(entry, found);
    found.then(
      (handle) => {
        if (!this.#land(entry, flight)) return; // a stop took it over: the stop ends it
        if (entry.gen !== gen) {
          // let go (the supervisor detached): the next agent adopts it
          handle?.release();
          return;
        }
        if (handle === null) {
          this.steps.launch(entry, 'started: no running container of it', 'started');
          return;
        }
        this.#attach(entry, gen, handle);
        Object.assign(entry, { adopted: true, startedAt: handle.startedAt });
        const why = `adopted running container ${handle.id.slice(0, 12)}`;
        this.steps.record(entry, 'adopted', why);
        this.steps.toUp(entry, gen, handle.startedAt, why);
      },
      (err: Error) => {
        if (this.#land(entry, flight) && entry.gen === gen)
          this.steps.launch(entry, `started: its container could not be looked for (${err.message})`, 'started');
      },
    );
    return snapshot(entry);
  }

  /**
   * For a stop (or a restart) of a process whose container is being started or adopted: takes
   * that start over, so the stop always wins. Its outcome no longer attaches (the generation
   * moves on); the promise gives the container once the start or adoption is done (null: none),
   * for the stop to end it. Null when nothing is under way.
   */
  claim(entry: ProcessRecord): Promise<ContainerHandle | null> | null {
    const flight = this.#inFlight.get(entry);
    if (flight === undefined) return null;
    this.#inFlight.delete(entry);
    flight.claimed = true;
    entry.gen++;
    return flight.handle;
  }

  #fly(entry: ProcessRecord, handle: Promise<ContainerHandle | null>): InFlight {
    const flight = { handle: handle.catch(() => null), claimed: false };
    this.#inFlight.set(entry, flight);
    return flight;
  }

  /** A start or adoption is done: false when a stop took it over. */
  #land(entry: ProcessRecord, flight: InFlight): boolean {
    if (this.#inFlight.get(entry) === flight) this.#inFlight.delete(entry);
    return !flight.claimed;
  }

  /** The stop command (inside it) or the stop signal, the engine's kill after the stop timeout, removal; the state is `stopping` meanwhile. */
  async terminate(entry: ProcessRecord, handle: ContainerHandle, why?: string): Promise<string> {
    clearTimers(entry);
    entry.retryAt = null;
    const pid = entry.pid;
    const how = entry.spec.stopCommand === undefined ? `sent ${entry.signal} to` : 'ran the stop command in';
    this.steps.setState(entry, 'stopping', why ?? `${how} container ${handle.id.slice(0, 12)}`);
    const reason = await handle.stop(entry.signal, entry.spec.stopTimeoutMs);
    entry.gen++;
    entry.lastExit = { code: entry.exitStatus.code, signal: null, at: Date.now(), reason };
    clearProcess(entry);
    this.steps.exit({ id: entry.spec.id, pid: pid ?? 0, code: entry.lastExit.code, signal: null, requested: true, reason });
    return reason;
  }

  /** Holds a running container: its death (the engine's wait) is handled like a process's. */
  #attach(entry: ProcessRecord, gen: number, handle: ContainerHandle): void {
    Object.assign(entry, { container: handle, pid: handle.pid, startTime: handle.pid === null ? null : procStartTime(handle.pid) });
    void handle.exited.then((end) => {
      if (entry.gen !== gen) return;
      entry.leaderExited = true;
      entry.oom = end.oom;
      entry.exitStatus = { code: end.code, signal: null };
      if (entry.state === 'stopping') return;
      this.steps.ended(entry, gen, end.code, end.reason);
    });
  }
}
