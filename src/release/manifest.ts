/** `manifest.json`: validation of a release manifest, and the defaults of a process. */
import { z } from 'zod';
import { NoopsError } from '../errors/index.js';
import { envMap, port, processName, runtimeMap, secretEnvMap, seconds, stopSignal } from './fields.js';
import { formatPath, problemsOf } from './issues.js';
import { scheduleProblem } from './schedule.js';
import { healthCheckManifest } from './health.js';
import { driverField, imageField, manifestResources, volumesField } from './containers-yaml.js';
import {
  DEFAULT_FLAPPING,
  DEFAULT_LOGS,
  DEFAULT_RESTART,
  conditionPortProblem,
  cronSchema,
  processSupervisionShape,
} from './supervision.js';
import type { ProcessSpec, ReleaseManifest } from './types.js';

/** The manifest's file name, at the top of every release package. */
export const MANIFEST_FILE = 'manifest.json';

/** The version of the package spec this code writes and reads. */
export const PACKAGE_SCHEMA = 1;

/** Characters of the commit hash that name a version (`15b2980f8`, as the deploy history shows). */
export const VERSION_LENGTH = 9;

/** The process that serves HTTP by convention (Heroku's `web`): it gets a port by default. */
export const WEB_PROCESS = 'web';

/** `web` gets a port the agent picks, so two releases can run side by side during a switch. */
export const DEFAULT_WEB_PORT = 'auto';

/** Other processes (workers, schedulers) listen on nothing unless they say so. */
export const DEFAULT_PORT = null;

/** SIGTERM is the graceful stop that most servers, Docker, systemd and Heroku agree on. */
export const DEFAULT_STOP_SIGNAL = 'SIGTERM';

/** Seconds before SIGKILL: Docker's `docker stop` default, long enough to finish most requests. */
export const DEFAULT_STOP_TIMEOUT = 10;

/** Seconds a process must stay up: a process with a bad config usually dies within a second or two. */
export const DEFAULT_START_GRACE = 2;

const processSchema = z.strictObject({
  name: processName,
  command: z.string().min(1, 'a command cannot be empty'),
  port,
  env: envMap,
  secretEnv: secretEnvMap.optional(),
  stopSignal,
  stopTimeout: seconds,
  startGrace: seconds,
  ...processSupervisionShape,
  healthcheck: healthCheckManifest.optional(),
  resources: manifestResources.optional(),
});

const manifestSchema = z
  .strictObject({
    schema: z.literal(PACKAGE_SCHEMA, { error: `expected ${PACKAGE_SCHEMA} (this noops reads package spec ${PACKAGE_SCHEMA})` }),
    job: z.string().min(1, 'the job tag cannot be empty'),
    version: z.string().regex(/^[0-9a-f]{9}$/, `expected the first ${VERSION_LENGTH} characters of the commit`),
    commit: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'expected a full commit hash (40 or 64 lower-case hex characters)'),
    repo: z.string().min(1, 'the repository cannot be empty'),
    builtAt: z.iso.datetime({ error: 'expected an ISO 8601 time in UTC, e.g. 2024-05-01T12:00:00.000Z' }),
    stack: z.string().min(1, 'the stack cannot be empty'),
    env: envMap,
    secretEnv: secretEnvMap.optional(),
    runtimes: runtimeMap.optional(),
    processes: z.array(processSchema).min(1, 'a release runs at least one process'),
    crons: z.array(cronSchema).optional(),
    deployTests: z.array(z.string().min(1, 'a command cannot be empty')).optional(),
    dependsOn: z.array(z.string().min(1, 'a selector cannot be empty')).optional(),
    drainTimeout: seconds.optional(),
    driver: driverField.optional(),
    image: imageField.optional(),
    resources: manifestResources.optional(),
    volumes: volumesField.optional(),
  })
  .superRefine((m, ctx) => {
    if (!m.commit.startsWith(m.version)) {
      ctx.addIssue({
        code: 'custom',
        path: ['version'],
        message: `expected ${m.commit.slice(0, VERSION_LENGTH)}, the start of the commit`,
      });
    }
    const names = new Set<string>();
    const ports = new Map<number, string>();
    for (const [i, p] of m.processes.entries()) {
      if (names.has(p.name))
        ctx.addIssue({ code: 'custom', path: ['processes', i, 'name'], message: `process "${p.name}" is defined twice` });
      names.add(p.name);
      if (typeof p.port !== 'number') continue;
      const other = ports.get(p.port);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['processes', i, 'port'], message: `port ${p.port} is also the port of "${other}"` });
      }
      ports.set(p.port, p.name);
    }
    for (const [i, p] of m.processes.entries()) {
      for (const [j, c] of (p.conditions ?? []).entries()) {
        const problem = conditionPortProblem(c, p.port);
        if (problem) ctx.addIssue({ code: 'custom', path: ['processes', i, 'conditions', j], message: problem });
      }
    }
    for (const [i, c] of (m.crons ?? []).entries()) {
      if (names.has(c.name))
        ctx.addIssue({ code: 'custom', path: ['crons', i, 'name'], message: `"${c.name}" is already the name of a process or cron` });
      names.add(c.name);
      const problem = scheduleProblem(c.schedule, c.timezone ?? undefined);
      if (problem) ctx.addIssue({ code: 'custom', path: ['crons', i, 'schedule'], message: problem });
    }
  });

// The schema's output must be exactly a ReleaseManifest; this line fails to compile if they drift.
const _sameShape: z.ZodType<ReleaseManifest> = manifestSchema;
void _sameShape;

/**
 * Validates a parsed manifest.json.
 *
 * @example validateManifest(JSON.parse(await readFile('manifest.json', 'utf8')))
 * @throws NoopsError NOOPS_E_PACKAGE_INVALID listing each bad key, e.g. `manifest.json: processes[0].port: ...`
 */
export function validateManifest(obj: unknown): ReleaseManifest {
  const result = manifestSchema.safeParse(obj);
  if (result.success) return result.data;
  const lines = problemsOf(result.error).map((p) => `${MANIFEST_FILE}: ${formatPath(p.path)}: ${p.message}`);
  throw new NoopsError('NOOPS_E_PACKAGE_INVALID', lines.join('\n'));
}

/** What a process's source says about it; everything but the command is optional. */
export type ProcessInput = { [K in keyof Omit<ProcessSpec, 'name' | 'command'>]?: ProcessSpec[K] | undefined } & { command: string };

/**
 * Fills a process's defaults (see the DEFAULT_* constants).
 *
 * @example processDefaults('web', { command: 'node server.js' })
 *   // { name: 'web', command: 'node server.js', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 10, startGrace: 2,
 *   //   restart: 'always', stopCommand: null, user: null, flapping: DEFAULT_FLAPPING, logs: DEFAULT_LOGS, conditions: [] }
 */
export function processDefaults(name: string, partial: ProcessInput): ProcessSpec {
  return {
    name,
    command: partial.command,
    port: partial.port !== undefined ? partial.port : name === WEB_PROCESS ? DEFAULT_WEB_PORT : DEFAULT_PORT,
    env: { ...(partial.env ?? {}) },
    // left out when empty: manifests without secrets stay as they were
    ...(partial.secretEnv && Object.keys(partial.secretEnv).length > 0 ? { secretEnv: { ...partial.secretEnv } } : {}),
    stopSignal: partial.stopSignal ?? DEFAULT_STOP_SIGNAL,
    stopTimeout: partial.stopTimeout ?? DEFAULT_STOP_TIMEOUT,
    startGrace: partial.startGrace ?? DEFAULT_START_GRACE,
    restart: partial.restart ?? DEFAULT_RESTART,
    stopCommand: partial.stopCommand ?? null,
    user: partial.user ?? null,
    flapping: partial.flapping ?? { ...DEFAULT_FLAPPING },
    logs: partial.logs ?? { ...DEFAULT_LOGS },
    conditions: partial.conditions ?? [],
    // left out unless given, so manifests without checks stay as they were (the agent applies the default)
    ...(partial.healthcheck ? { healthcheck: partial.healthcheck } : {}),
    ...(partial.resources ? { resources: partial.resources } : {}),
  };
}
