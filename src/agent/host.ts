/**
 * The supervision side of a host: one Supervisor for the processes, one CronRunner for the
 * crons, the events of both (in memory and in ROOT/events.log), the state that lets a new agent
 * adopt what runs, and the host's standalone watches. The Agent adds the server on top; a
 * standalone agent (`noops agent --standalone`) is this alone.
 */
import { mkdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CronReport, EventReport, MetricSample, ProcessReport } from '../api/index.js';
import {
  CronRunner,
  CpuMeter,
  EventRing,
  groupUsage,
  rotateIfNeeded,
  Supervisor,
  type EventKind,
  type ProcessStatus,
  type SupervisorOptions,
} from '../supervisor/index.js';
import type { ProcessSpec } from '../release/index.js';
import { parseTag } from '../tree/index.js';
import { localCronSpec, localWatchSpec, readWatches, WATCHES_FILE, type LocalWatches } from './watches/local-watches.js';
import type { ProcessSupervisor } from './backends.js';
import type { WatchRef } from './control/names.js';
import { recordPids, recordWatches, startCrons, type Failures } from './reconcile.js';
import { instanceProcesses, processId, watchSpec } from './specs.js';
import type { HostUsers } from './run-as.js';
import { readReleaseOnDisk, rebuildInstances, rebuildLocal, scanProcesses, type FoundProcess } from './rebuild.js';
import { readState, saveState, type AgentState, type InstanceState, type WatchesState } from './state.js';

/** 1 MiB x 3 kept: months of a quiet host's events, and a busy host's last days. */
const EVENTS_LOG = { maxBytes: 1024 * 1024, keep: 3 };
/** 1000 events in memory: what the server has not acknowledged yet, and `noops ctl` reads. */
const EVENTS_KEPT = 1000;

export interface HostOptions {
  root: string;
  supervisor?: SupervisorOptions;
  /** the process supervisor; default a real `Supervisor` with `supervisor` options (the fleet benchmark passes a simulated one) */
  processes?: ProcessSupervisor;
  /**
   * Read each process's memory and CPU from /proc for the metrics (default true). Off for a
   * simulated supervisor: its pids are not real processes.
   */
  sampleUsage?: boolean;
  /** the standalone watches; default ROOT/watches.yaml (a missing file is no watches) */
  watchesFile?: string;
  /** who the processes of releases run as when their manifest does not say (default: the agent's own user) */
  users?: HostUsers;
  log: (line: string) => void;
}

export class Host {
  readonly root: string;
  readonly supervisor: ProcessSupervisor;
  readonly crons: CronRunner;
  readonly events = new EventRing(EVENTS_KEPT);
  readonly state: AgentState;
  readonly failures: Failures = new Map();
  readonly watchesFile: string;
  readonly users: HostUsers;
  local: LocalWatches = { processes: [], crons: [], env: {} };
  readonly #cpu = new Map<string, CpuMeter>();
  readonly #log: (line: string) => void;
  readonly #sampleUsage: boolean;
  readonly #eventsFile: string;
  #pendingLines: string[] = [];
  /** the processes found when state.json was unreadable (the standalone watches are matched to them once read) */
  #rebuiltFrom: FoundProcess[] | undefined;

  constructor(opts: HostOptions) {
    this.root = opts.root;
    this.#log = opts.log;
    this.#sampleUsage = opts.sampleUsage ?? true;
    this.users = opts.users ?? { defaultUser: null };
    mkdirSync(this.root, { recursive: true, mode: 0o755 });
    this.watchesFile = opts.watchesFile ?? join(this.root, WATCHES_FILE);
    this.#eventsFile = join(this.root, 'events.log');
    this.state = this.#loadState();
    this.supervisor = opts.processes ?? new Supervisor(opts.supervisor);
    this.crons = new CronRunner({ pollMs: opts.supervisor?.pollMs });
    this.supervisor.on('event', (e) => this.#event(e.id, e.kind, e.message));
    this.crons.on('event', (id, kind, message) => this.#event(id, kind, message));
  }

  /** Reads state.json; an unreadable one is moved aside and rebuilt from the processes that run. */
  #loadState(): AgentState {
    const { state, corrupt } = readState(this.root);
    if (corrupt === undefined) return state;
    this.#log(
      `state.json could not be read (${corrupt.error}); moved aside to ${corrupt.aside}; rebuilding it from the processes that run`,
    );
    const found = scanProcesses();
    const notes: string[] = [];
    state.instances = rebuildInstances(this.root, found, readReleaseOnDisk, notes);
    for (const n of notes) this.#log(`rebuilding the state: ${n}`);
    const adopted = Object.values(state.instances).reduce((n, i) => n + Object.keys(i.processes).length, 0);
    this.#log(`rebuilt the state: ${Object.keys(state.instances).length} instances, ${adopted} running processes to adopt`);
    this.#rebuiltFrom = found;
    saveState(this.root, state);
    return state;
  }

  /** The state of the standalone watches (created on first use). */
  get localState(): WatchesState {
    return (this.state.local ??= { processes: {} });
  }

  /** Takes over what the previous agent left running; starts what is not running (unless held). */
  async adoptAll(): Promise<void> {
    for (const inst of Object.values(this.state.instances)) {
      for (const spec of instanceProcesses(inst.desired)) {
        try {
          this.#adoptOne(watchSpec(this.root, inst.desired, spec, inst.ports[spec.name], this.users), inst, spec.name);
        } catch (err) {
          this.#log(`${inst.desired.tag}/${spec.name}: cannot start: ${(err as Error).message}`);
        }
      }
      startCrons(this, inst);
      recordPids(this.supervisor, inst, this.crons);
    }
    try {
      this.local = await readWatches(this.watchesFile);
    } catch (err) {
      this.#log(`standalone watches not loaded: ${(err as Error).message}`);
    }
    if (this.#rebuiltFrom !== undefined) {
      this.localState.processes = rebuildLocal(
        this.#rebuiltFrom,
        this.local.processes.map((p) => ({ name: p.spec.name, dir: p.dir })),
      );
      this.#rebuiltFrom = undefined;
    }
    this.#applyLocal(this.local, true);
    this.save();
  }

  #adoptOne(ws: ReturnType<typeof watchSpec>, w: WatchesState, name: string): void {
    const rec = w.processes[name];
    if (w.held?.includes(name)) this.supervisor.hold(ws, 'stopped by request (before the agent restarted)');
    // a container is found by its labels, with or without a recorded pid
    else if (rec || ws.container) this.supervisor.adopt(ws, rec ?? { pid: 0, startTime: 0 });
    else this.supervisor.start(ws);
  }

  /**
   * Reads the watches file again (god's `load`) and applies it: new watches start, removed ones
   * stop, changed ones restart; unchanged ones are left alone. A bad file changes nothing.
   */
  async reloadLocal(): Promise<{ started: string[]; stopped: string[]; restarted: string[] }> {
    const next = await readWatches(this.watchesFile); // throws NOOPS_E_WATCHES: nothing changes
    const before = new Map(this.local.processes.map((p) => [p.spec.name, JSON.stringify(localWatchSpec(this.root, this.local, p))]));
    const after = new Map(next.processes.map((p) => [p.spec.name, JSON.stringify(localWatchSpec(this.root, next, p))]));
    const stopped = [...before.keys()].filter((n) => !after.has(n));
    const restarted = [...after.keys()].filter((n) => before.has(n) && before.get(n) !== after.get(n));
    const started = [...after.keys()].filter((n) => !before.has(n));
    for (const c of this.local.crons) this.crons.remove(c.cron.name);
    await Promise.all([...stopped, ...restarted].map((n) => this.supervisor.stop(n)));
    this.supervisor.forget(...stopped, ...restarted);
    this.local = next;
    this.#applyLocal(next, false);
    this.recordAll();
    this.save();
    return { started, stopped, restarted };
  }

  /** Starts the standalone watches the supervisor does not have yet, and schedules the crons. */
  #applyLocal(w: LocalWatches, adopt: boolean): void {
    const st = this.localState;
    for (const p of w.processes) {
      if (this.supervisor.status(p.spec.name) !== undefined) continue;
      try {
        const ws = localWatchSpec(this.root, w, p);
        if (adopt) this.#adoptOne(ws, st, p.spec.name);
        else this.supervisor.start(ws);
      } catch (err) {
        this.#log(`${p.spec.name}: cannot start: ${(err as Error).message}`);
      }
    }
    for (const c of w.crons) {
      try {
        this.crons.add(localCronSpec(this.root, w, c));
        const run = st.crons?.[c.cron.name];
        if (adopt && run) this.crons.adoptRun(c.cron.name, run);
      } catch (err) {
        this.#log(`cron ${c.cron.name}: cannot schedule: ${(err as Error).message}`);
      }
    }
  }

  /** Copies pids and cron runs into the state; true when something changed. */
  recordAll(): boolean {
    let changed = false;
    for (const inst of Object.values(this.state.instances)) changed = recordPids(this.supervisor, inst, this.crons) || changed;
    const names = this.local.processes.map((p) => p.spec.name);
    changed =
      recordWatches(
        this.supervisor,
        this.crons,
        this.localState,
        names,
        this.local.crons.map((c) => c.cron.name),
        (n) => n,
      ) || changed;
    return changed;
  }

  save(): void {
    saveState(this.root, this.state);
  }

  /** Every watch of the host, for `noops ctl` names. */
  refs(): WatchRef[] {
    const refs: WatchRef[] = [];
    for (const s of this.supervisor.list())
      refs.push({ id: s.id, tag: tagOf(s.meta), name: String(s.meta.process ?? s.id), kind: 'process' });
    for (const c of this.crons.list()) refs.push({ id: c.id, tag: tagOf(c.meta), name: String(c.meta.cron ?? c.id), kind: 'cron' });
    return refs;
  }

  /** Marks a process as stopped (or not) by a person, so an agent restart keeps it so. */
  setHeld(ref: WatchRef, held: boolean): void {
    const w = ref.tag === null ? this.localState : this.state.instances[ref.tag];
    if (w === undefined) return;
    const set = new Set(w.held ?? []);
    if (held) set.add(ref.name);
    else set.delete(ref.name);
    w.held = [...set];
    this.save();
  }

  /**
   * What runs, per process of every instance, as the agent reports it; `more` adds fields of the
   * agent's own (health, whether the release was downloaded).
   */
  processes(more?: (inst: InstanceState, spec: ProcessSpec, status: ProcessStatus | undefined) => Partial<ProcessReport>): ProcessReport[] {
    const out: ProcessReport[] = [];
    for (const inst of Object.values(this.state.instances)) {
      for (const spec of instanceProcesses(inst.desired)) {
        const s = this.supervisor.status(processId(inst.desired.tag, spec.name));
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
          ...more?.(inst, spec, s),
        });
      }
    }
    return out;
  }

  /** The crons of every instance, as the agent reports them. */
  cronReports(): CronReport[] {
    const iso = (ms: number): string => new Date(ms).toISOString();
    return this.crons
      .list()
      .filter((c) => tagOf(c.meta) !== null)
      .map((c) => ({
        tag: tagOf(c.meta)!,
        name: String(c.meta.cron),
        schedule: c.schedule,
        running: c.running !== null,
        nextRunAt: c.nextRunAt === null ? null : iso(c.nextRunAt),
        runs: c.runs,
        skipped: c.skipped,
        lastRun: c.lastRun && {
          startedAt: iso(c.lastRun.startedAt),
          endedAt: iso(c.lastRun.endedAt),
          result: c.lastRun.result,
          message: c.lastRun.message,
        },
      }));
  }

  /** Events after `seq`, as reported (at most `limit`, the oldest first). */
  eventReports(seq: number, limit: number): EventReport[] {
    const events = this.events.since(seq).slice(0, limit);
    if (events.length === 0) return [];
    const refs = new Map(this.refs().map((r) => [r.id, r]));
    return events.map((e) => {
      const ref = refs.get(e.id);
      const slash = e.id.lastIndexOf('/');
      return {
        seq: e.seq,
        at: new Date(e.at).toISOString(),
        kind: e.kind,
        message: e.message,
        tag: ref?.tag ?? (slash >= 0 ? e.id.slice(0, slash) : null),
        name: ref?.name ?? e.id.slice(slash + 1),
      };
    });
  }

  /**
   * The metrics of every instance process now (see MetricSample): `common.servicerunning` and
   * friends, tagged with the tag's pairs and `process=NAME`. The agent's metrics loop
   * (metrics/agent-metrics.ts) calls it every `--metrics-every`; CPU is measured between two calls.
   */
  instanceMetrics(endpoint: string, stepSeconds: number, now = Date.now()): MetricSample[] {
    const out: MetricSample[] = [];
    const timestamp = Math.floor(now / 1000);
    for (const inst of Object.values(this.state.instances)) {
      const pairs = parseTag(inst.desired.tag)
        .pairs.map((p) => `${p.key}=${p.value}`)
        .join(',');
      for (const spec of instanceProcesses(inst.desired)) {
        const id = processId(inst.desired.tag, spec.name);
        const s = this.supervisor.status(id);
        const usage = s?.pid && this.#sampleUsage ? groupUsage(s.pid) : null;
        let meter = this.#cpu.get(id);
        if (meter === undefined) this.#cpu.set(id, (meter = new CpuMeter()));
        const cpu = usage ? meter.sample(usage.cpuTicks, now) : null;
        const tags = `${pairs},process=${spec.name}`;
        const sample = (metric: string, value: number): MetricSample => ({
          endpoint,
          metric,
          value,
          timestamp,
          step: stepSeconds,
          counterType: 'GAUGE',
          tags,
        });
        out.push(
          // running once started and alive: `starting` too (its health check not passed yet), so a
          // deploy does not look like a death to a strategy such as all(#2) == 0
          sample('common.servicerunning', s?.pid && (s.state === 'up' || s.state === 'starting') ? 1 : 0),
          sample('common.servicerestarts', s?.restarts ?? 0),
          sample('common.serviceuptime', s?.startedAt && s.pid ? Math.max(0, Math.round((now - s.startedAt) / 1000)) : 0),
          sample('common.servicerss', usage?.rssBytes ?? 0),
          sample('common.servicecpu', cpu === null ? 0 : Math.round(cpu * 10) / 10),
        );
      }
    }
    return out;
  }

  /** Stops every process and cron run of the host (god's `nuke`). */
  async nuke(): Promise<void> {
    this.crons.stopAll();
    await this.supervisor.stopAll();
    this.recordAll();
    this.save();
  }

  /** Lets go of everything without stopping it (the agent exits; a new one adopts). */
  detach(): void {
    this.recordAll();
    this.save();
    this.crons.detach();
    this.supervisor.detach();
  }

  #event(id: string, kind: EventKind, message: string): void {
    const e = this.events.push(id, kind, message);
    this.#pendingLines.push(`${JSON.stringify({ at: new Date(e.at).toISOString(), id, kind, message })}\n`);
    // Written after the current turn, in one append: a crash's restart never waits for the disk.
    if (this.#pendingLines.length === 1) setImmediate(() => void this.#writeEvents());
  }

  async #writeEvents(): Promise<void> {
    const text = this.#pendingLines.join('');
    this.#pendingLines = [];
    try {
      rotateIfNeeded(this.#eventsFile, EVENTS_LOG);
      await appendFile(this.#eventsFile, text, { mode: 0o640 });
    } catch (err) {
      this.#log(`cannot record events in ${this.#eventsFile}: ${(err as Error).message}`);
    }
  }
}

function tagOf(meta: Record<string, unknown>): string | null {
  return typeof meta.tag === 'string' ? meta.tag : null;
}
