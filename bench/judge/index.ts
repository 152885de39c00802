/**
 * The judge's throughput and memory (issue 15): points per second on one core with 10,000
 * strategies and 1,000,000 series, the same when every point meets about five rules, and the
 * memory of 1,000,000 series. Each scenario runs in a fresh process (bench/judge/worker.ts),
 * pinned to one core with `taskset -c 0` when there is one (the garbage collector's helpers too).
 *
 * Anchor (the issue, Falcon's own judge on this kind of machine): 94,000 points/s on one core,
 * 23,000/s when every point meets about five rules, 6.9 GiB for 1,000,000 series.
 * Goal: 1,000,000 points/s on one core, 1,000,000 series under 1 GB.
 *
 *   node --import tsx bench/judge/index.ts [--quick]     (or: npm run bench -- --only judge)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
export const RESULTS = join(HERE, '..', 'results', 'judge.json');

/** One scenario's figures, as the worker prints them. */
export interface JudgeRow {
  series: number;
  strategies: number;
  rulesPerPoint: number;
  rounds: number;
  clusters: number;
  /** heap and array buffers the judge holds once every series exists (after a full GC) */
  judgeBytes: number;
  judgeBytesPerSeries: number;
  slabBytes: number;
  rssGrowthBytes: number;
  /** the feed gives each point its store series id (and key): found by an array read */
  withIds: { pointsPerS: number; pointsPerCpuS: number; events: number };
  /** the feed gives each point its key only: found by a Map lookup of the key */
  withKeys: { pointsPerS: number; pointsPerCpuS: number; events: number };
  lastEvents: number;
}

const SCENARIOS = {
  quick: [
    { series: 100_000, strategies: 10_000, rulesPerPoint: 1, rounds: 4 },
    { series: 100_000, strategies: 10_000, rulesPerPoint: 5, rounds: 2 },
  ],
  full: [
    { series: 1_000_000, strategies: 10_000, rulesPerPoint: 1, rounds: 6 },
    { series: 1_000_000, strategies: 10_000, rulesPerPoint: 5, rounds: 3 },
  ],
};

function scenario(args: object): JudgeRow {
  const node = [
    process.execPath,
    '--expose-gc',
    '--max-old-space-size=4096',
    '--import',
    'tsx',
    join(HERE, 'worker.ts'),
    JSON.stringify(args),
  ];
  const pinned = existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', '0', ...node] : node;
  const r = spawnSync(pinned[0]!, pinned.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench/judge/worker.ts failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as JudgeRow;
}

/** Runs every scenario; answers (and, run alone, writes) the results. */
export async function run(opts: { quick: boolean }): Promise<{ pinned: boolean; rows: JudgeRow[] }> {
  const rows: JudgeRow[] = [];
  for (const s of opts.quick ? SCENARIOS.quick : SCENARIOS.full) {
    const row = scenario(s);
    process.stderr.write(
      `bench judge: ${s.series} series, ${s.rulesPerPoint} rule(s) per point: ${row.withIds.pointsPerCpuS} points per CPU second with ids (${row.withIds.pointsPerS}/s by the clock; ${row.withKeys.pointsPerCpuS} with keys), ${Math.round(row.judgeBytes / 2 ** 20)} MiB\n`,
    );
    rows.push(row);
  }
  return { pinned: existsSync('/usr/bin/taskset'), rows };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run({ quick: process.argv.includes('--quick') });
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ name: 'judge', at: new Date().toISOString(), ...results }, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
