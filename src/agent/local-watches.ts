/**
 * Standalone watches: processes and crons a host declares for itself (nginx, a log shipper, a
 * nightly backup), in a YAML file beside the agent (ROOT/watches.yaml by default). Same keys as
 * a process and a cron of noops.yaml, plus `dir`, their working folder. They are named by their
 * bare name (deployed ones are TAG/NAME), log to ROOT/local/log, and are loaded at start and by
 * `noops ctl load`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { NoopsError } from '../errors/index.js';
import {
  checkCronSchedule, envMap, parseYamlWith, processDefaults, processName, toCrons, toFlapping, toLogs, yamlCronShape, yamlProcessShape,
  type CronSpecManifest, type ProcessSpec,
} from '../release/index.js';
import type { CronSpec, WatchSpec } from '../supervisor/index.js';
import { inheritedEnv, supervision } from './specs.js';

/** The watches file's name in the agent root. */
export const WATCHES_FILE = 'watches.yaml';

const dir = z.string().refine((d) => d.startsWith('/'), 'expected an absolute folder, e.g. /srv/app');
const fixedPort = z.number().int().min(1).max(65535).nullable();

const localProcess = z.preprocess(
  (v) => (typeof v === 'string' ? { command: v } : v),
  z.strictObject({ ...yamlProcessShape, port: fixedPort.optional(), dir: dir.optional() }, { error: 'expected a command, or a mapping with a "command" key' }),
);

/** The schema of the watches file. */
export const watchesSchema = z.strictObject({
  /** environment of every watch (the agent's PATH, HOME, ... come first) */
  env: envMap.optional(),
  processes: z.record(processName, localProcess, { error: 'expected a mapping of process names' }).optional(),
  crons: z.record(processName, z.strictObject({ ...yamlCronShape, dir: dir.optional() }, { error: 'expected a mapping with schedule and command' })
    .superRefine(checkCronSchedule), { error: 'expected a mapping of cron names' }).optional(),
}, { error: 'expected a mapping of keys (env, processes, crons)' });

/** One standalone watch, ready for the supervisor. */
export interface LocalWatches {
  processes: { spec: ProcessSpec; dir: string }[];
  crons: { cron: CronSpecManifest; dir: string }[];
  env: Record<string, string>;
}

/**
 * Parses the watches file's text, or throws NOOPS_E_WATCHES with a line per problem.
 *
 * @example parseWatches('processes:\n  nginx:\n    command: nginx -g "daemon off;"\n    dir: /etc/nginx\n', 'watches.yaml')
 */
export function parseWatches(text: string, file: string): LocalWatches {
  const top = parseYamlWith(watchesSchema, text, file, 'NOOPS_E_WATCHES');
  const processes = Object.entries(top.processes ?? {}).map(([name, p]) => ({
    dir: p.dir ?? '/',
    spec: processDefaults(name, {
      command: p.command, port: p.port ?? null, env: p.env, stopSignal: p.stop_signal, stopTimeout: p.stop_timeout,
      startGrace: p.start_grace, restart: p.restart, stopCommand: p.stop_command, user: p.user,
      flapping: toFlapping(p.flapping), logs: toLogs(p.logs), conditions: p.conditions,
    }),
  }));
  const names = new Set(processes.map((p) => p.spec.name));
  const cronList = toCrons(top.crons).map((cron) => {
    if (names.has(cron.name)) throw new NoopsError('NOOPS_E_WATCHES', `${file}: crons.${cron.name}: "${cron.name}" is already the name of a process`);
    return { cron, dir: top.crons?.[cron.name]?.dir ?? '/' };
  });
  return { processes, crons: cronList, env: { ...(top.env ?? {}) } };
}

/** Reads the watches file; a missing file is no watches. */
export function readWatches(file: string): LocalWatches {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { processes: [], crons: [], env: {} };
    throw new NoopsError('NOOPS_E_WATCHES', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseWatches(text, file);
}

/** Where standalone watches log. */
export function localLogDir(root: string): string {
  return join(root, 'local', 'log');
}

/** The supervisor's spec of a standalone process. */
export function localWatchSpec(root: string, w: LocalWatches, p: LocalWatches['processes'][number]): WatchSpec {
  const port = typeof p.spec.port === 'number' ? p.spec.port : undefined;
  const env: Record<string, string> = { ...inheritedEnv(), ...w.env, ...p.spec.env, NOOPS_PROCESS: p.spec.name };
  if (port !== undefined) env.PORT = String(port);
  return {
    id: p.spec.name, cwd: p.dir, env, logDir: localLogDir(root), logName: p.spec.name,
    ...supervision(p.spec, port),
    meta: { tag: null, version: null, process: p.spec.name, port: port ?? null },
  };
}

/** The cron runner's spec of a standalone cron. */
export function localCronSpec(root: string, w: LocalWatches, c: LocalWatches['crons'][number]): CronSpec {
  return {
    id: c.cron.name, schedule: c.cron.schedule, ...(c.cron.timezone ? { timezone: c.cron.timezone } : {}),
    command: c.cron.command, cwd: c.dir, env: { ...inheritedEnv(), ...w.env, ...c.cron.env, NOOPS_PROCESS: c.cron.name },
    logDir: localLogDir(root), logName: `cron-${c.cron.name}`, timeoutMs: c.cron.timeout * 1000,
    ...(c.cron.user ? { user: c.cron.user } : {}),
    meta: { tag: null, version: null, cron: c.cron.name },
  };
}
