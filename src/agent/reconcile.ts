/**
 * Bringing a host to its desired state: install each desired release (verified), switch
 * `current`, and run its processes under the supervisor. What to do is reconcile-plan.ts's pure
 * decision; this file carries it out. A release that cannot be installed
 * never touches the running one; one that cannot start is reported as a failure, and the
 * server sends the host back to the release it ran before.
 */
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { PieceDest } from '../swarm/index.js';
import { type DesiredInstance, type FailureReport, replicaOf } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import type { ProcessSpec } from '../release/index.js';
import { ensureRuntime } from '../runtimes/index.js';
import type { CronRunner } from '../supervisor/index.js';
import { diskReleases, type ProcessSupervisor, type ReleaseStore } from './backends.js';
import { cacheDir } from './install/install-paths.js';
import { freePort } from '../net/index.js';
import { noteRuntimesInUse, pruneUnusedRuntimes } from './install/runtime-prune.js';
import { planReconcile, type ActualState } from './reconcile-plan.js';
import { cronSpec, instanceProcesses, processId, runtimesDir, runtimesOf, watchSpec } from './specs.js';
import { driverOf } from './containers/spec.js';
import type { HostUsers } from './run-as.js';
import type { AgentState, InstanceState } from './state.js';

export { processId, runtimesDir, runtimesOf, watchSpec } from './specs.js';

/** Releases kept on disk per job, for rollback without a download. */
export const KEEP_RELEASES = 5;
/** A new release whose process died this many times before staying up has failed. */
export const FAILED_STARTS_LIMIT = 3;

export interface ReconcileDeps {
  root: string;
  supervisor: ProcessSupervisor;
  crons: CronRunner;
  /** where releases are kept; default: on disk under root */
  releases?: ReleaseStore;
  /** downloads a package into a file, a stream or a piece destination (the caller verifies) */
  download(url: string, dest: string | Writable | PieceDest): Promise<void>;
  /** persists the state after a change a crash must not lose (the caller saves it again once `reconcile` returns) */
  save(): void;
  log(line: string): void;
  /** a release could not be fetched for a passing reason (the server unreachable): reconcile again later */
  retryLater?(): void;
  /** how long a runtime nothing uses stays installed (default RUNTIME_KEEP_MS) */
  runtimeKeepMs?: number;
  /** why a desired release may not be installed or run (its signature); undefined when it may */
  verify?(d: DesiredInstance): string | undefined;
  /** who processes without `user:` run as (default: the agent's own user; as root, none may run then) */
  users?: HostUsers;
  /** the container engine (docs/containers.md): what a `driver: container` release needs is made ready before its old release stops */
  containers?: { prepare(image: string | undefined): Promise<void> };
}

/** Failures of desired releases, by tag: reported until the desired state changes. */
export type Failures = Map<string, FailureReport>;

/**
 * Applies the desired instances: asks planReconcile (pure) what to do, then does it, step by
 * step. Runs one at a time (the caller serializes).
 */
export async function reconcile(
  deps: ReconcileDeps,
  state: AgentState,
  desired: DesiredInstance[],
  failures: Failures,
): Promise<ReconcileOutcome> {
  // The runtimes in use are used until this moment: one a switch below leaves unused keeps its
  // keep time from now, not from whenever it was last stamped (days ago, on a quiet host).
  const usedBefore = noteRuntimesInUse(state);
  const outcome: ReconcileOutcome = { runtimesChanged: false, changed: false };
  const plan = planReconcile(desired, actualState(deps.supervisor, state, failures), deps.verify);
  const byTag = new Map(desired.map((d) => [d.tag, d]));
  for (const step of plan) {
    switch (step.do) {
      case 'remove': {
        // Stop its processes (its files stay until pruned).
        await stopInstance(deps, state.instances[step.tag]!);
        delete state.instances[step.tag];
        failures.delete(step.tag);
        deps.save();
        deps.log(`${step.tag}: removed`);
        outcome.changed = true;
        break;
      }
      case 'forget-failure':
        failures.delete(step.tag);
        outcome.changed = true;
        break;
      case 'refuse':
        failures.set(step.tag, { tag: step.tag, version: step.version, error: step.reason });
        deps.log(`${step.tag}: ${step.reason}`);
        outcome.changed = true;
        break;
      case 'keep': {
        const cur = state.instances[step.tag]!;
        const next = byTag.get(step.tag)!;
        // kind, deployment and replicas may change without a new release
        if (step.stop || step.start.length > 0 || JSON.stringify(cur.desired) !== JSON.stringify(next)) outcome.changed = true;
        cur.desired = next;
        if (step.stop) await stopReplicas(deps, cur, step.stop);
        await startProcesses(deps, cur, step.start);
        // Replicas: their pids (and a new copy's port) recorded and saved when a copy started or
        // stopped; not at every reconcile of an instance whose copies all run as recorded (a
        // durable write per desired-state answer, each staging's too).
        if (step.stop || instanceProcesses(cur.desired) !== cur.desired.manifest.processes) {
          if (recordPids(deps.supervisor, cur) || step.stop || step.start.length > 0) deps.save();
        }
        break;
      }
      case 'switch':
        if (await switchRelease(deps, state, state.instances[step.tag], byTag.get(step.tag)!, failures)) outcome.runtimesChanged = true;
        outcome.changed = true;
        break;
    }
  }
  // The runtimes' folder is walked when this reconcile changed what is installed or in use; else
  // nothing can have become removable here that the Agent's timer does not remove (a runtime
  // goes after its keep time, a day by default, and the timer looks every hour), and a deploy
  // that switches releases of the same runtimes reads no folder (bench/fleet: 13% of a simulated
  // agent's CPU went to these reads at every desired-state change).
  const usedAfter = noteRuntimesInUse(state);
  // The stamps of use are saved by the caller, which saves the state once a reconcile returns
  // (with the generation it applied): one durable write of state.json less per deploy. A reconcile
  // that changed nothing (`changed` false) saves nothing: its stamps go with the next save.
  if (outcome.runtimesChanged || !sameKeys(usedBefore, usedAfter)) {
    if ((await pruneUnusedRuntimes(deps, state)).length > 0) outcome.runtimesChanged = true;
  }
  return outcome;
}

/** What a reconcile changed that the Agent reports apart from its processes. */
export interface ReconcileOutcome {
  /** a runtime was installed or removed: what the host says it has is read again */
  runtimesChanged: boolean;
  /**
   * a step did something: an instance switched, was removed or refused, a process started or
   * stopped, a failure was forgotten, or an instance's desired fields changed (its deployment, its
   * replicas). False: the desired state was the one already applied, under a newer generation
   * (an answer that only staged a package for the host's next batch, docs/packages-p2p.md).
   */
  changed: boolean;
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a) if (!b.has(k)) return false;
  return true;
}

/** What the host runs, as planReconcile sees it. */
function actualState(supervisor: ProcessSupervisor, state: AgentState, failures: Failures): ActualState {
  const instances: Record<string, { version: string; sha256: string }> = {};
  const supervised = new Set<string>();
  for (const [tag, inst] of Object.entries(state.instances)) {
    instances[tag] = { version: inst.desired.version, sha256: inst.desired.sha256 };
    for (const p of instanceProcesses(inst.desired)) {
      const id = processId(tag, p.name);
      if (supervisor.status(id)) supervised.add(id);
    }
  }
  const failed: Record<string, string> = {};
  for (const [tag, f] of failures) failed[tag] = f.version;
  return { instances, failed, supervised };
}

/** Moves one instance to the desired release; answers whether a runtime was installed for it. */
async function switchRelease(
  deps: ReconcileDeps,
  state: AgentState,
  cur: InstanceState | undefined,
  d: DesiredInstance,
  failures: Failures,
): Promise<boolean> {
  const { root } = deps;
  const releases = deps.releases ?? diskReleases;
  // 1. Put its runtimes and the release on disk, verified. Any failure here leaves the running release alone.
  let installed: { downloaded: boolean };
  let runtimeInstalled = false; // the answer: whether a runtime was installed
  try {
    for (const ref of runtimesOf(d)) {
      const r = await ensureRuntime({
        runtimesDir: runtimesDir(root),
        cacheDir: cacheDir(root),
        ref,
        download: (dest) => deps.download(ref.url, dest),
      });
      if (r.installed) {
        runtimeInstalled = true;
        deps.log(`runtime ${ref.name} ${ref.version}: installed (${r.downloaded ? 'downloaded' : 'from the cache'})`);
      }
    }
    installed = await releases.install({
      root,
      tag: d.tag,
      version: d.version,
      sha256: d.sha256,
      download: (dest) => deps.download(d.url, dest),
    });
  } catch (err) {
    const msg = (err as Error).message;
    if (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE' && deps.retryLater) {
      // Not the release's fault: reporting it failed would fail the whole deploy.
      deps.log(`${d.tag}: cannot fetch ${d.version} now (${msg}); trying again`);
      deps.retryLater();
      return runtimeInstalled;
    }
    // A package that does not match its signed sha256 is the artifact store's or the network's
    // doing: say so. It is not fetched again until the desired state names another release.
    const error =
      err instanceof NoopsError && err.code === 'NOOPS_E_SHA256_MISMATCH'
        ? `a package of release ${d.version} is refused: ${msg} (the file in the server's artifact store was changed, or the download was damaged). Nothing of it was installed`
        : msg;
    failures.set(d.tag, { tag: d.tag, version: d.version, error });
    deps.log(`${d.tag}: cannot install ${d.version}: ${error}`);
    return runtimeInstalled;
  }
  // 1b. A container release: the engine, its image and the network, before anything stops.
  if (driverOf(d) === 'container') {
    try {
      if (!deps.containers) throw new Error('this agent runs no container engine');
      await deps.containers.prepare(d.manifest.image);
    } catch (err) {
      const error = `cannot run ${d.version} in containers: ${(err as Error).message}`;
      failures.set(d.tag, { tag: d.tag, version: d.version, error });
      deps.log(`${d.tag}: ${error}`);
      return runtimeInstalled;
    }
  }
  // 2. Stop the old processes (they may hold the ports the new ones need).
  if (cur) await stopInstance(deps, cur);
  // 3. Switch `current` atomically (shared folders first) and start the new processes.
  releases.activate(root, d.tag, d.version);
  const inst: InstanceState = { desired: d, ports: cur?.ports ?? {}, processes: {}, downloaded: installed.downloaded };
  state.instances[d.tag] = inst;
  for (const spec of instanceProcesses(d)) {
    const port = await portFor(inst, spec);
    try {
      deps.supervisor.start(watchSpec(root, d, spec, port, usersOf(deps)));
    } catch (err) {
      // A spec this host cannot run (a user that does not exist here): the release has failed.
      failures.set(d.tag, { tag: d.tag, version: d.version, error: `process ${spec.name}: ${(err as Error).message}` });
    }
  }
  startCrons(deps, inst, failures);
  recordPids(deps.supervisor, inst);
  deps.save();
  const previous = cur?.desired.version;
  await releases.prune(root, d.tag, KEEP_RELEASES, previous ? [d.version, previous] : [d.version]);
  deps.log(`${d.tag}: ${previous ? `${previous} -> ` : ''}${d.version} (${installed.downloaded ? 'downloaded' : 'already on disk'})`);
  return runtimeInstalled;
}

/** Starts the named processes of the current release (those the supervisor does not have: one a person stopped is held, and kept stopped). */
async function startProcesses(deps: ReconcileDeps, inst: InstanceState, names: readonly string[]): Promise<void> {
  for (const spec of instanceProcesses(inst.desired)) {
    if (!names.includes(spec.name)) continue;
    // a new replica's `port: auto` is its own, picked now (the first replica's stays as recorded)
    const port = inst.ports[spec.name] ?? (replicaOf(spec.name).replica > 1 ? await portFor(inst, spec) : undefined);
    deps.supervisor.start(watchSpec(deps.root, inst.desired, spec, port, usersOf(deps)));
  }
}

/**
 * Stops replicas an instance no longer runs (its count went down): each as any stop (its stop
 * command or signal, its grace), then forgotten with its port and pid records.
 */
async function stopReplicas(deps: ReconcileDeps, inst: InstanceState, names: readonly string[]): Promise<void> {
  const tag = inst.desired.tag;
  await Promise.all(names.map((n) => deps.supervisor.stop(processId(tag, n)).catch(() => undefined)));
  deps.supervisor.forget?.(...names.map((n) => processId(tag, n)));
  for (const n of names) {
    delete inst.ports[n];
    delete inst.processes[n];
  }
  deps.log(`${tag}: stopped ${names.join(', ')} (fewer replicas)`);
}

/** Schedules the crons of an instance; a cron this host cannot run fails the release. */
export function startCrons(deps: Pick<ReconcileDeps, 'root' | 'crons' | 'users'>, inst: InstanceState, failures?: Failures): void {
  const d = inst.desired;
  for (const c of d.manifest.crons ?? []) {
    try {
      deps.crons.add(cronSpec(deps.root, d, c, usersOf(deps)));
      const run = inst.crons?.[c.name];
      if (run) deps.crons.adoptRun(processId(d.tag, c.name), run);
    } catch (err) {
      failures?.set(d.tag, { tag: d.tag, version: d.version, error: `cron ${c.name}: ${(err as Error).message}` });
    }
  }
}

/** The host's users, as the deps give them: none given, processes run as the agent's own user. */
export function usersOf(deps: Pick<ReconcileDeps, 'users'>): HostUsers {
  return deps.users ?? { defaultUser: null };
}

async function stopInstance(deps: ReconcileDeps, inst: InstanceState): Promise<void> {
  const tag = inst.desired.tag;
  // A cron run in progress finishes (and is recorded); no new one starts.
  for (const c of inst.desired.manifest.crons ?? []) deps.crons.remove(processId(tag, c.name));
  const processes = instanceProcesses(inst.desired);
  await Promise.all(processes.map((p) => deps.supervisor.stop(processId(tag, p.name)).catch(() => undefined)));
  deps.supervisor.forget?.(...processes.map((p) => processId(tag, p.name)));
}

async function portFor(inst: InstanceState, spec: ProcessSpec): Promise<number | undefined> {
  if (spec.port === null) return undefined;
  if (typeof spec.port === 'number') return (inst.ports[spec.name] = spec.port);
  inst.ports[spec.name] ??= await freePort();
  return inst.ports[spec.name];
}

/** Copies pids and start times from the supervisor into the state (for adoption later). */
export function recordPids(supervisor: ProcessSupervisor, inst: InstanceState, crons?: CronRunner): boolean {
  return recordWatches(
    supervisor,
    crons,
    inst,
    instanceProcesses(inst.desired).map((p) => p.name),
    (inst.desired.manifest.crons ?? []).map((c) => c.name),
    (n) => processId(inst.desired.tag, n),
  );
}

/** Copies what runs (pids, start times, cron runs) into `w`; true when something changed. */
export function recordWatches(
  supervisor: ProcessSupervisor,
  crons: CronRunner | undefined,
  w: import('./state.js').WatchesState,
  processNames: string[],
  cronNames: string[],
  idOf: (name: string) => string,
): boolean {
  let changed = false;
  if (crons) {
    const runs: Record<string, import('./state.js').CronRunRecord> = {};
    for (const name of cronNames) {
      const r = crons.status(idOf(name))?.running;
      if (r && r.startTime !== null) runs[name] = { pid: r.pid, startTime: r.startTime, startedAt: r.startedAt };
    }
    if (JSON.stringify(runs) !== JSON.stringify(w.crons ?? {})) {
      w.crons = runs;
      changed = true;
    }
  }
  for (const name of processNames) {
    const s = supervisor.status(idOf(name));
    const prev = w.processes[name];
    if (s && s.pid !== null && s.startTime !== null) {
      if (!prev || prev.pid !== s.pid || prev.startTime !== s.startTime || prev.restarts !== s.restarts) {
        w.processes[name] = { pid: s.pid, startTime: s.startTime, restarts: s.restarts };
        changed = true;
      }
    } else if (prev) {
      delete w.processes[name];
      changed = true;
    }
  }
  return changed;
}

/** Marks a release whose processes keep dying before they are up as failed. */
export function detectStartFailures(supervisor: ProcessSupervisor, state: AgentState, failures: Failures, root: string): void {
  for (const inst of Object.values(state.instances)) {
    const d = inst.desired;
    if (failures.get(d.tag)?.version === d.version) continue;
    for (const spec of instanceProcesses(d)) {
      const s = supervisor.status(processId(d.tag, spec.name));
      if (!s) continue;
      // Ended for good before it was ever up (restart: never or on-failure): it failed at once.
      const endedBeforeUp = s.state === 'exited' && s.failedStarts > 0 && s.lastExit?.code !== 0;
      if (s.failedStarts >= FAILED_STARTS_LIMIT || endedBeforeUp) {
        // the path only for a failure: this runs at every report, for every process
        const log = join(root, 'jobs', d.tag, 'shared', 'log', `${spec.name}.err.log`);
        const what = endedBeforeUp
          ? `ended before staying up ${spec.startGrace}s`
          : `died ${s.failedStarts} times before staying up ${spec.startGrace}s`;
        failures.set(d.tag, { tag: d.tag, version: d.version, error: `process ${spec.name} ${what} (${s.reason}); see ${log}` });
        break;
      }
    }
  }
}
