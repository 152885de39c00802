/**
 * Standalone watches: processes and crons a host declares for itself (nginx, a log shipper, a
 * nightly backup), in a YAML file beside the agent (ROOT/watches.yaml by default). Same keys as
 * a process and a cron of noops.yaml, plus `dir`, their working folder. They are named by their
 * bare name (deployed ones are TAG/NAME), log to ROOT/local/log, and are loaded at start and by
 * `noops ctl load`. The parser runs in a short-lived worker thread (local-watches-worker.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { isErrorCode, NoopsError } from '../../errors/index.js';
import type { CronSpecManifest, ProcessSpec } from '../../release/index.js';
import type { CronSpec, WatchSpec } from '../../supervisor/index.js';
import { inheritedEnv, supervision } from '../specs.js';

/** The watches file's name in the agent root. */
export const WATCHES_FILE = 'watches.yaml';

/** The standalone watches of a host, ready for the supervisor. */
export interface LocalWatches {
  processes: { spec: ProcessSpec; dir: string }[];
  crons: { cron: CronSpecManifest; dir: string }[];
  env: Record<string, string>;
}

/** Reads and parses the watches file; a missing file is no watches. Throws NOOPS_E_WATCHES. */
export async function readWatches(file: string): Promise<LocalWatches> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { processes: [], crons: [], env: {} };
    throw new NoopsError('NOOPS_E_WATCHES', `cannot read ${file}: ${(err as Error).message}`);
  }
  // Run from source under tsx (the tests ran so until session 29) workers cannot load TypeScript: parse in place.
  if (import.meta.url.endsWith('.ts')) return (await import('./local-watches-parse.js')).parseWatches(text, file);
  return parseInWorker(text, file);
}

/** Runs the parser in a worker thread that exits with its libraries (see local-watches-worker.ts). */
function parseInWorker(text: string, file: string): Promise<LocalWatches> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./local-watches-worker.js', import.meta.url), { workerData: { text, file } });
    worker.once('message', (m: { ok?: LocalWatches; error?: { code: string; message: string; hint: string } }) => {
      void worker.terminate();
      if (m.ok) resolve(m.ok);
      else
        reject(
          new NoopsError(isErrorCode(m.error?.code) ? m.error.code : 'NOOPS_E_WATCHES', m.error?.message ?? `${file}: cannot be parsed`, {
            hint: m.error?.hint,
          }),
        );
    });
    worker.once('error', (err) => reject(new NoopsError('NOOPS_E_WATCHES', `${file}: the parser failed: ${err.message}`)));
  });
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
    id: p.spec.name,
    cwd: p.dir,
    env,
    logDir: localLogDir(root),
    logName: p.spec.name,
    ...supervision(p.spec, port),
    meta: { tag: null, version: null, process: p.spec.name, port: port ?? null },
  };
}

/** The cron runner's spec of a standalone cron. */
export function localCronSpec(root: string, w: LocalWatches, c: LocalWatches['crons'][number]): CronSpec {
  return {
    id: c.cron.name,
    schedule: c.cron.schedule,
    ...(c.cron.timezone ? { timezone: c.cron.timezone } : {}),
    command: c.cron.command,
    cwd: c.dir,
    env: { ...inheritedEnv(), ...w.env, ...c.cron.env, NOOPS_PROCESS: c.cron.name },
    logDir: localLogDir(root),
    logName: `cron-${c.cron.name}`,
    timeoutMs: c.cron.timeout * 1000,
    ...(c.cron.user ? { user: c.cron.user } : {}),
    meta: { tag: null, version: null, cron: c.cron.name },
  };
}
