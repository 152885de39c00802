/**
 * `npm run bench`: runs every benchmark (each `bench/<name>/index.ts` that exports `run`) and
 * writes bench/results/<name>.json with its figures, the machine and the date.
 *
 *   npm run bench                    everything, full size (under ~20 minutes)
 *   npm run bench -- --quick         a small version of each (under 2 minutes): a smoke check
 *   npm run bench -- --only fleet    one benchmark (or a comma-separated list)
 *   npm run bench -- --no-build      skip `npm run build` (done when src/ is newer than dist/: the benchmarks run bin/noops)
 *   npm run bench -- --nice          run at a raised priority (see BENCH_NICE), where allowed
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { type Calibration, calibrate, describeCalibration } from './lib/calibrate.js';
import { discover } from './lib/discover.js';
import { machine } from './lib/machine.js';

const BENCH = new URL('.', import.meta.url).pathname;
const ROOT = join(BENCH, '..');
/** Open files per process: 10,000 agents hold 10,000 long polls and their heartbeat sockets,
 * on both ends; Linux's usual 1,024 (or this machine's 20,000) is not enough. */
const OPEN_FILES = 65_536;
/** With --nice, the benchmarks (and every process they start) run at this priority where
 * allowed: on a shared machine, other work at normal priority then skews the timings less. Off
 * by default: it takes CPU from everyone else on the machine. Recorded with the results. */
const BENCH_NICE = -10;
/** Under autogroup scheduling (Linux's default on desktops and many VMs) the CPU is shared
 * between sessions first, and nice counts only within a session: the session's own nice is here. */
const AUTOGROUP = '/proc/self/autogroup';

function parseArgs(argv: string[]): { quick: boolean; only: string[]; build: boolean; nice: boolean } {
  const out = { quick: false, only: [] as string[], build: true, nice: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') out.quick = true;
    else if (a === '--no-build') out.build = false;
    else if (a === '--nice') out.nice = true;
    else if (a === '--only' && argv[i + 1]) out.only.push(...argv[++i]!.split(',').filter(Boolean));
    else if (a.startsWith('--only=')) out.only.push(...a.slice('--only='.length).split(',').filter(Boolean));
    else throw new Error(`unknown argument "${a}"; use --quick, --only NAME[,NAME], --no-build or --nice`);
  }
  return out;
}

/** The newest modification time of a file under `dir` (0 when there is none). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** dist/ is older than src/ (or missing): bin/noops would run old code. */
function needsBuild(): boolean {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  return !existsSync(main) || newest(join(ROOT, 'src')) > statSync(main).mtimeMs;
}

/** Runs this script again under a shell that raised the open-files limit (children inherit it). */
function reexecWithMoreFiles(): never {
  const script = `ulimit -n ${OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const r = spawnSync('/bin/sh', ['-c', script, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NOOPS_BENCH_FILES_RAISED: '1' },
  });
  process.exit(r.status ?? 1);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (process.env.NOOPS_BENCH_FILES_RAISED !== '1') reexecWithMoreFiles();
  const priority = { nice: 0, autogroupNice: null as number | null };
  if (args.nice) {
    try {
      setPriority(BENCH_NICE);
      priority.nice = BENCH_NICE;
      if (existsSync(AUTOGROUP)) {
        writeFileSync(AUTOGROUP, String(BENCH_NICE));
        priority.autogroupNice = BENCH_NICE;
      }
    } catch {
      process.stderr.write(`bench: could not raise the priority to nice ${BENCH_NICE} (not allowed here); running at ${priority.nice}\n`);
    }
  }
  if (args.build && needsBuild()) {
    process.stderr.write('bench: npm run build (src/ is newer than dist/)\n');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) return b.status ?? 1;
  }
  const benchmarks = await discover(BENCH, args.only);
  const resultsDir = join(BENCH, 'results');
  mkdirSync(resultsDir, { recursive: true });
  let failed = 0;
  for (const b of benchmarks) {
    // the machine's constants just before it runs (bench/lib/calibrate.ts): they move within the
    // hour; a failure to measure them is said, and the benchmark runs all the same
    let calibration: Calibration | null = null;
    try {
      calibration = await calibrate();
      process.stderr.write(`bench: this machine: ${describeCalibration(calibration)}\n`);
    } catch (err) {
      process.stderr.write(`bench: the machine's constants could not be measured: ${(err as Error).message}\n`);
    }
    const startedAt = new Date();
    const m = machine();
    process.stderr.write(`bench: ${b.name}${args.quick ? ' (quick)' : ''}, load average ${m.loadAvg1m}\n`);
    try {
      const results = await b.run({ quick: args.quick });
      const endedAt = new Date();
      const file = join(resultsDir, `${b.name}.json`);
      writeFileSync(
        file,
        `${JSON.stringify(
          {
            name: b.name,
            quick: args.quick,
            machine: m,
            calibration,
            priority,
            loadAvg1mAtEnd: Math.round(loadavg()[0]! * 100) / 100,
            startedAt: startedAt.toISOString(),
            endedAt: endedAt.toISOString(),
            durationS: Math.round((endedAt.getTime() - startedAt.getTime()) / 100) / 10,
            results,
          },
          null,
          2,
        )}\n`,
      );
      process.stderr.write(`bench: ${b.name} done in ${Math.round((endedAt.getTime() - startedAt.getTime()) / 1000)} s -> ${file}\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`bench: ${b.name} failed: ${(err as Error).stack ?? err}\n`);
    }
  }
  if (benchmarks.length === 0) process.stderr.write('bench: no benchmark found (bench/<name>/index.ts exporting run)\n');
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exit(2);
  },
);
