/**
 * Bringing a host to its desired state: install each desired release (verified), switch
 * `current`, and run its processes under the supervisor. A release that cannot be installed
 * never touches the running one; one that cannot start is reported as a failure, and the
 * server sends the host back to the release it ran before.
 */
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { DesiredInstance, FailureReport } from '../api/types.js';
import { NoopsError } from '../errors/index.js';
import type { ProcessSpec } from '../release/types.js';
import type { WatchSpec } from '../supervisor/index.js';
import { diskReleases, type ProcessSupervisor, type ReleaseStore } from './host.js';
import { freePort } from './ports.js';
import type { AgentState, InstanceState } from './state.js';

/** Releases kept on disk per job, for rollback without a download. */
export const KEEP_RELEASES = 5;
/** A new release whose process died this many times before staying up has failed. */
export const FAILED_STARTS_LIMIT = 3;
/** The environment a process inherits from the agent; everything else comes from its release. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR'];

export interface ReconcileDeps {
  root: string;
  supervisor: ProcessSupervisor;
  /** where releases are kept; default: on disk under root */
  releases?: ReleaseStore;
  /** downloads a package into a file or a stream (the caller verifies) */
  download(url: string, dest: string | Writable): Promise<void>;
  /** persists the state after a change */
  save(): void;
  log(line: string): void;
  /** a release could not be fetched for a passing reason (the server unreachable): reconcile again later */
  retryLater?(): void;
}

/** Failures of desired releases, by tag: reported until the desired state changes. */
export type Failures = Map<string, FailureReport>;

export function processId(tag: string, name: string): string {
  return `${tag}/${name}`;
}

/** The supervisor's spec of one process of one release. */
export function watchSpec(root: string, inst: InstanceState, spec: ProcessSpec, port: number | undefined): WatchSpec {
  const d = inst.desired;
  const jobDir = join(root, 'jobs', d.tag);
  const inherited: Record<string, string> = {};
  for (const k of INHERITED_ENV) if (process.env[k] !== undefined) inherited[k] = process.env[k]!;
  const env: Record<string, string> = {
    ...inherited,
    ...d.manifest.env,
    ...spec.env,
    NOOPS_TAG: d.tag,
    NOOPS_VERSION: d.version,
    NOOPS_PROCESS: spec.name,
    NOOPS_DEPLOY_KIND: d.kind,
    NOOPS_RELEASE_DIR: join(jobDir, 'releases', d.version),
    NOOPS_DATA_DIR: join(jobDir, 'shared', 'data'),
    NOOPS_LOG_DIR: join(jobDir, 'shared', 'log'),
  };
  if (port !== undefined) env.PORT = String(port);
  return {
    id: processId(d.tag, spec.name),
    command: spec.command,
    cwd: join(jobDir, 'releases', d.version),
    env,
    logDir: join(jobDir, 'shared', 'log'),
    logName: spec.name,
    stopSignal: spec.stopSignal,
    stopTimeoutMs: spec.stopTimeout * 1000,
    startGraceMs: spec.startGrace * 1000,
    meta: { tag: d.tag, version: d.version, process: spec.name, port: port ?? null },
  };
}

/** Applies the desired instances. Runs one at a time (the caller serializes). */
export async function reconcile(deps: ReconcileDeps, state: AgentState, desired: DesiredInstance[], failures: Failures): Promise<void> {
  const wanted = new Map(desired.map((d) => [d.tag, d]));
  // Instances no longer desired: stop their processes (their files stay until pruned).
  for (const [tag, inst] of Object.entries(state.instances)) {
    if (wanted.has(tag)) continue;
    await stopInstance(deps, inst);
    delete state.instances[tag];
    failures.delete(tag);
    deps.save();
    deps.log(`${tag}: removed`);
  }
  for (const d of desired) {
    const failed = failures.get(d.tag);
    if (failed && failed.version !== d.version) failures.delete(d.tag);
    if (failed && failed.version === d.version) continue; // the server decides what comes next
    const cur = state.instances[d.tag];
    if (cur && cur.desired.version === d.version && cur.desired.sha256 === d.sha256) {
      cur.desired = d; // kind and deployment may change without a new release
      ensureRunning(deps, cur);
      continue;
    }
    await switchRelease(deps, state, cur, d, failures);
  }
}

async function switchRelease(deps: ReconcileDeps, state: AgentState, cur: InstanceState | undefined, d: DesiredInstance, failures: Failures): Promise<void> {
  const { root } = deps;
  const releases = deps.releases ?? diskReleases;
  // 1. Put the release on disk, verified. Any failure here leaves the running release alone.
  let installed: { downloaded: boolean };
  try {
    installed = await releases.install({
      root, tag: d.tag, version: d.version, sha256: d.sha256,
      download: (dest) => deps.download(d.url, dest),
    });
  } catch (err) {
    const msg = (err as Error).message;
    if (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE' && deps.retryLater) {
      // Not the release's fault: reporting it failed would fail the whole deploy.
      deps.log(`${d.tag}: cannot fetch ${d.version} now (${msg}); trying again`);
      deps.retryLater();
      return;
    }
    failures.set(d.tag, { tag: d.tag, version: d.version, error: msg });
    deps.log(`${d.tag}: cannot install ${d.version}: ${msg}`);
    return;
  }
  // 2. Stop the old processes (they may hold the ports the new ones need).
  if (cur) await stopInstance(deps, cur);
  // 3. Switch `current` atomically (shared folders first) and start the new processes.
  releases.activate(root, d.tag, d.version);
  const inst: InstanceState = { desired: d, ports: cur?.ports ?? {}, processes: {}, downloaded: installed.downloaded };
  state.instances[d.tag] = inst;
  for (const spec of d.manifest.processes) {
    const port = await portFor(inst, spec);
    deps.supervisor.start(watchSpec(root, inst, spec, port));
  }
  recordPids(deps.supervisor, inst);
  deps.save();
  const previous = cur?.desired.version;
  await releases.prune(root, d.tag, KEEP_RELEASES, previous ? [d.version, previous] : [d.version]);
  deps.log(`${d.tag}: ${previous ? `${previous} -> ` : ''}${d.version} (${installed.downloaded ? 'downloaded' : 'already on disk'})`);
}

/** Restarts processes of the current release that the supervisor no longer has (e.g. after a ctl stop). */
function ensureRunning(deps: ReconcileDeps, inst: InstanceState): void {
  for (const spec of inst.desired.manifest.processes) {
    const id = processId(inst.desired.tag, spec.name);
    if (!deps.supervisor.status(id)) {
      deps.supervisor.start(watchSpec(deps.root, inst, spec, inst.ports[spec.name]));
    }
  }
}

async function stopInstance(deps: ReconcileDeps, inst: InstanceState): Promise<void> {
  await Promise.all(inst.desired.manifest.processes.map((p) => deps.supervisor.stop(processId(inst.desired.tag, p.name)).catch(() => undefined)));
  deps.supervisor.forget?.(...inst.desired.manifest.processes.map((p) => processId(inst.desired.tag, p.name)));
}

async function portFor(inst: InstanceState, spec: ProcessSpec): Promise<number | undefined> {
  if (spec.port === null) return undefined;
  if (typeof spec.port === 'number') return (inst.ports[spec.name] = spec.port);
  inst.ports[spec.name] ??= await freePort();
  return inst.ports[spec.name];
}

/** Copies pids and start times from the supervisor into the state (for adoption later). */
export function recordPids(supervisor: ProcessSupervisor, inst: InstanceState): boolean {
  let changed = false;
  for (const spec of inst.desired.manifest.processes) {
    const s = supervisor.status(processId(inst.desired.tag, spec.name));
    const prev = inst.processes[spec.name];
    if (s && s.pid !== null && s.startTime !== null) {
      if (!prev || prev.pid !== s.pid || prev.startTime !== s.startTime || prev.restarts !== s.restarts) {
        inst.processes[spec.name] = { pid: s.pid, startTime: s.startTime, restarts: s.restarts };
        changed = true;
      }
    } else if (prev) {
      delete inst.processes[spec.name];
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
    for (const spec of d.manifest.processes) {
      const s = supervisor.status(processId(d.tag, spec.name));
      if (s && s.failedStarts >= FAILED_STARTS_LIMIT) {
        const log = join(root, 'jobs', d.tag, 'shared', 'log', `${spec.name}.err.log`);
        failures.set(d.tag, {
          tag: d.tag, version: d.version,
          error: `process ${spec.name} died ${s.failedStarts} times before staying up ${spec.startGrace}s (${s.reason}); see ${log}`,
        });
        break;
      }
    }
  }
}
