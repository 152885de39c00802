/**
 * The watches file's schema and parser (zod and yaml), loaded by local-watches.ts only when a
 * host has a watches file: an agent that runs only deployed releases never loads them.
 */
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import {
  checkCronSchedule,
  envMap,
  processDefaults,
  processName,
  toCrons,
  toFlapping,
  toLogs,
  yamlCronShape,
} from '../../release/index.js';
import { parseYamlWith, yamlProcessShape } from '../../release/noops-yaml.js';
import type { LocalWatches } from './local-watches.js';

const dir = z.string().refine((d) => d.startsWith('/'), 'expected an absolute folder, e.g. /srv/app');
const fixedPort = z.number().int().min(1).max(65535).nullable();

const localProcess = z.preprocess(
  (v) => (typeof v === 'string' ? { command: v } : v),
  z.strictObject(
    { ...yamlProcessShape, port: fixedPort.optional(), dir: dir.optional() },
    { error: 'expected a command, or a mapping with a "command" key' },
  ),
);

/** The schema of the watches file. */
export const watchesSchema = z.strictObject(
  {
    /** environment of every watch (the agent's PATH, HOME, ... come first) */
    env: envMap.optional(),
    processes: z.record(processName, localProcess, { error: 'expected a mapping of process names' }).optional(),
    crons: z
      .record(
        processName,
        z
          .strictObject({ ...yamlCronShape, dir: dir.optional() }, { error: 'expected a mapping with schedule and command' })
          .superRefine(checkCronSchedule),
        { error: 'expected a mapping of cron names' },
      )
      .optional(),
  },
  { error: 'expected a mapping of keys (env, processes, crons)' },
);

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
      command: p.command,
      port: p.port ?? null,
      env: p.env,
      stopSignal: p.stop_signal,
      stopTimeout: p.stop_timeout,
      startGrace: p.start_grace,
      restart: p.restart,
      stopCommand: p.stop_command,
      user: p.user,
      flapping: toFlapping(p.flapping),
      logs: toLogs(p.logs),
      conditions: p.conditions,
    }),
  }));
  const names = new Set(processes.map((p) => p.spec.name));
  const cronList = toCrons(top.crons).map((cron) => {
    if (names.has(cron.name))
      throw new NoopsError('NOOPS_E_WATCHES', `${file}: crons.${cron.name}: "${cron.name}" is already the name of a process`);
    return { cron, dir: top.crons?.[cron.name]?.dir ?? '/' };
  });
  return { processes, crons: cronList, env: { ...(top.env ?? {}) } };
}
