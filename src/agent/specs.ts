/**
 * From a release's manifest to what the supervisor runs, as pure functions: the WatchSpec of
 * each process and the CronSpec of each cron of an instance, with the defaults of older
 * manifests filled in and the checks of "the process's own port" pointed at its port.
 */
import { join } from 'node:path';
import { type DesiredInstance, replicaCount, replicaName, replicaOf } from '../api/index.js';
// Types only: the agent never loads the release schemas (zod, yaml) to run a release; a key an
// older manifest lacks is left out here, and the supervisor's own default applies.
import type { CronSpecManifest, ManifestCondition, ManifestFlapping, ProcessSpec } from '../release/index.js';
import { runtimeEnv } from '../runtimes/index.js';
import { secretValues } from '../secrets/index.js';
import type { RuntimeRef } from '../runtimes/index.js';
import type { ConditionSpec, CronSpec, FlappingPolicy, WatchSpec } from '../supervisor/index.js';
import { processUser, type HostUsers } from './run-as.js';
import { containerSpec, driverOf } from './containers/spec.js';

/** The environment a process inherits from the agent; everything else comes from its release. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR'];

/** The supervisor id of a process (or cron) of an instance. */
export function processId(tag: string, name: string): string {
  return `${tag}/${name}`;
}

/**
 * The processes an instance runs on this host: each process of its manifest once per replica
 * (`web`, `web@2`, ...: api/replicas.ts). With one replica (`replicas` absent or 1) it is the
 * manifest's own list, the very array, so an instance without replicas runs exactly as before.
 *
 * @example
 *   instanceProcesses({ manifest: { processes: [web, worker] }, replicas: 2 }).map((p) => p.name)
 *   // ['web', 'web@2', 'worker', 'worker@2']
 */
export function instanceProcesses(d: Pick<DesiredInstance, 'manifest' | 'replicas'>): ProcessSpec[] {
  const n = replicaCount(d);
  if (n === 1) return d.manifest.processes;
  const out: ProcessSpec[] = [];
  for (const p of d.manifest.processes) for (let r = 1; r <= n; r++) out.push(r === 1 ? p : { ...p, name: replicaName(p.name, r) });
  return out;
}

/** The agent's own variables that processes see (PATH, HOME, ...). */
export function inheritedEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of INHERITED_ENV) if (from[k] !== undefined) out[k] = from[k]!;
  return out;
}

/** `ROOT/runtimes`: every runtime version installed once, shared by the instances that name it. */
export function runtimesDir(root: string): string {
  return join(root, 'runtimes');
}

/**
 * The runtimes an instance's manifest names, as the server described them. Throws naming the
 * first one the server sent no description of (it does not know it).
 */
export function runtimesOf(d: DesiredInstance): RuntimeRef[] {
  return Object.entries(d.manifest.runtimes ?? {}).map(([name, version]) => {
    const ref = d.runtimes?.find((r) => r.name === name && r.version === version);
    if (!ref) throw new Error(`runtime ${name} ${version} is not known to the server (it sent no package for it)`);
    return ref;
  });
}

/** Folders of an instance on the host. */
export function instanceDirs(root: string, d: Pick<DesiredInstance, 'tag' | 'version'>): { release: string; log: string; data: string } {
  const jobDir = join(root, 'jobs', d.tag);
  return { release: join(jobDir, 'releases', d.version), log: join(jobDir, 'shared', 'log'), data: join(jobDir, 'shared', 'data') };
}

/**
 * The environment of every process and cron of an instance (without PORT): the release's `env`,
 * then its secrets (values from the desired state), then `extra` (a process's own).
 */
export function instanceEnv(root: string, d: DesiredInstance, name: string, extra: Record<string, string>): Record<string, string> {
  const dirs = instanceDirs(root, d);
  const inherited = inheritedEnv();
  // Only the runtimes this release names, first on PATH: another release's runtimes stay invisible.
  let runtimes: RuntimeRef[] = [];
  try {
    runtimes = runtimesOf(d);
  } catch {
    // an install would have failed first; an adopted process keeps what it had
  }
  const placed = runtimes.map((r) => ({ exports: r.exports, dir: join(runtimesDir(root), r.name, r.version) }));
  return {
    ...inherited,
    ...runtimeEnv(placed, inherited.PATH),
    NOOPS_NODE: process.execPath,
    ...d.manifest.env,
    ...secretValues(d.manifest.secretEnv, d.secrets),
    ...extra,
    NOOPS_TAG: d.tag,
    NOOPS_VERSION: d.version,
    NOOPS_PROCESS: name,
    NOOPS_DEPLOY_KIND: d.kind,
    NOOPS_RELEASE_DIR: dirs.release,
    NOOPS_DATA_DIR: dirs.data,
    NOOPS_LOG_DIR: dirs.log,
  };
}

/**
 * The supervisor's spec of one process of one instance. It runs as its manifest's `user:`, else
 * as the host's default user (`users`); as uid 0 only when the instance allows root.
 */
export function watchSpec(root: string, d: DesiredInstance, spec: ProcessSpec, port: number | undefined, users: HostUsers): WatchSpec {
  const dirs = instanceDirs(root, d);
  const { process: base, replica } = replicaOf(spec.name);
  const env = instanceEnv(root, d, base, { ...spec.env, ...secretValues(spec.secretEnv, d.secrets) });
  if (port !== undefined) env.PORT = String(port);
  // only when the server sent a count: an instance without replicas sees exactly what it saw before
  if (d.replicas !== undefined) {
    env.NOOPS_REPLICA = String(replica);
    env.NOOPS_REPLICAS = String(replicaCount(d));
  }
  return {
    id: processId(d.tag, spec.name),
    cwd: dirs.release,
    env,
    logDir: dirs.log,
    logName: spec.name,
    ...supervision(spec, port),
    ...runAs(root, d, spec.user, users),
    meta: { tag: d.tag, version: d.version, process: spec.name, port: port ?? null },
    ...(driverOf(d) === 'container' && {
      container: containerSpec(d, spec, { release: dirs.release, data: dirs.data, runtimes: runtimesDir(root), node: process.execPath }),
    }),
  };
}

/** Who a process or cron of an instance runs as, and what it must be able to write. */
function runAs(
  root: string,
  d: DesiredInstance,
  manifestUser: string | null | undefined,
  users: HostUsers,
): Pick<WatchSpec, 'user' | 'allowRoot' | 'writable'> {
  const user = processUser(manifestUser, users);
  return { ...(user !== undefined && { user }), allowRoot: d.allowRoot === true, writable: [instanceDirs(root, d).data] };
}

/** The fields of a WatchSpec that come from a process's manifest entry alone. */
export function supervision(
  spec: ProcessSpec,
  port: number | undefined,
): Omit<WatchSpec, 'id' | 'cwd' | 'env' | 'logDir' | 'logName' | 'meta'> {
  return {
    command: spec.command,
    stopSignal: spec.stopSignal,
    stopTimeoutMs: spec.stopTimeout * 1000,
    startGraceMs: spec.startGrace * 1000,
    conditions: (spec.conditions ?? []).map((c) => conditionSpec(c, port)),
    ...(spec.restart ? { restart: spec.restart } : {}),
    ...(spec.flapping !== undefined ? { flapping: spec.flapping === false ? null : flappingMs(spec.flapping) } : {}),
    ...(spec.logs ? { logs: { maxBytes: spec.logs.maxSize, keep: spec.logs.keep } } : {}),
    ...(spec.stopCommand ? { stopCommand: spec.stopCommand } : {}),
    ...(spec.user ? { user: spec.user } : {}),
  };
}

function flappingMs(f: ManifestFlapping): FlappingPolicy {
  return {
    times: f.times,
    withinMs: f.within * 1000,
    retryInMs: f.retryIn * 1000,
    retryTimes: f.retryTimes,
    retryWithinMs: f.retryWithin * 1000,
  };
}

/**
 * A manifest condition as the supervisor runs it. A check of the process's own port uses
 * `port`; without one (a manifest the build validated always has one) it checks port 0, which
 * fails visibly rather than silently passing.
 */
export function conditionSpec(c: ManifestCondition, port: number | undefined): ConditionSpec {
  const base = { intervalMs: c.interval * 1000, times: c.times, of: c.of, action: c.action };
  switch (c.kind) {
    case 'memory':
      return { kind: 'memory', aboveBytes: c.above, ...base };
    case 'cpu':
      return { kind: 'cpu', abovePercent: c.above, ...base };
    case 'http':
      return {
        kind: 'http',
        url: c.url ?? `http://127.0.0.1:${port ?? 0}${c.path ?? '/'}`,
        timeoutMs: c.timeout * 1000,
        ...base,
        ...(c.codeIs ? { codeIs: c.codeIs } : {}),
        ...(c.codeIsNot ? { codeIsNot: c.codeIsNot } : {}),
      };
    case 'tcp':
      return { kind: 'tcp', host: c.host, port: c.port ?? port ?? 0, timeoutMs: c.timeout * 1000, ...base };
    case 'command':
      return { kind: 'command', command: c.command, timeoutMs: c.timeout * 1000, ...base };
  }
}

/** The cron runner's spec of one cron of one instance (its user as a process's); its output goes to `cron-<name>.*.log`. */
export function cronSpec(root: string, d: DesiredInstance, c: CronSpecManifest, users: HostUsers): CronSpec {
  const dirs = instanceDirs(root, d);
  return {
    id: processId(d.tag, c.name),
    schedule: c.schedule,
    ...(c.timezone ? { timezone: c.timezone } : {}),
    command: c.command,
    cwd: dirs.release,
    env: instanceEnv(root, d, c.name, c.env),
    logDir: dirs.log,
    logName: `cron-${c.name}`,
    timeoutMs: c.timeout * 1000,
    ...runAs(root, d, c.user, users),
    meta: { tag: d.tag, version: d.version, cron: c.name },
  };
}
