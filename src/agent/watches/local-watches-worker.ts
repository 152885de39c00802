/**
 * Parses the watches file in a worker thread: the parser's libraries (zod, yaml) load into the
 * worker's heap and leave with it, so the agent's own memory stays that of the supervisor.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NoopsError } from '../../errors/index.js';
import { parseWatches } from './local-watches-parse.js';

const { text, file } = workerData as { text: string; file: string };
try {
  parentPort!.postMessage({ ok: parseWatches(text, file) });
} catch (err) {
  const e = err instanceof NoopsError ? err : new NoopsError('NOOPS_E_WATCHES', `${file}: ${(err as Error).message}`);
  parentPort!.postMessage({ error: e.toJSON() });
}
