/**
 * Points per second one server ingests into its store (issue 15), registered for
 * `npm run bench -- --only metrics`: runs bench/metrics/ingest.ts in a fresh process on SQLite
 * (and on PostgreSQL when NOOPS_BENCH_PG_URL names a database it may fill) and gathers its
 * figures.
 *
 *   node --import tsx bench/metrics/index.ts [--quick]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
export const RESULTS = join(HERE, '..', 'results', 'metrics.json');

/** One run's figures, as ingest.ts prints them. */
export interface IngestRow {
  backend: string;
  points: number;
  series: number;
  seconds: number;
  pointsPerSecond: number;
}

function ingest(points: number, db: string | undefined): IngestRow {
  const args = ['--import', 'tsx', join(HERE, 'ingest.ts'), '--points', String(points), ...(db ? ['--db', db] : [])];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench/metrics/ingest.ts failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as IngestRow;
}

/** Runs the ingestion on each backend; answers (and, run alone, writes) the results. */
export async function run(opts: { quick: boolean }): Promise<{ rows: IngestRow[] }> {
  const points = opts.quick ? 50_000 : 200_000;
  const rows = [ingest(points, undefined)];
  const pg = process.env.NOOPS_BENCH_PG_URL;
  if (pg) rows.push(ingest(points, pg));
  for (const row of rows) process.stderr.write(`bench metrics: ${row.backend}: ${row.pointsPerSecond} points/s stored\n`);
  return { rows };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run({ quick: process.argv.includes('--quick') });
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ name: 'metrics', at: new Date().toISOString(), ...results }, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
