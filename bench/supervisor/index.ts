/**
 * The supervisor benchmark: noops against supervisord, god and PM2, side by side in one run.
 * Each supervises the same 50 programs; for each it measures
 *
 *   - its own resident memory and CPU with 50 programs, in steady state (the supervisor's
 *     process only, never its programs);
 *   - the time from a crash (SIGKILL of a program that has run for a while) to the program
 *     running again, as the program itself records it, once per program.
 *
 *   node --import tsx bench/supervisor/index.ts            full: 60 s settle, a 30 s window, 40 crashes each (~3 min)
 *   node --import tsx bench/supervisor/index.ts --quick    10 s settle, a 5 s window, 10 crashes each (~1 min)
 *
 * Writes bench/results/supervisor.json and prints the table of docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTENDERS, type Contender, type Running } from './contenders.js';
import { crashToRunning, percentile, programScript, readStart, round, steadyCost, untilAllRunning } from './measure.js';

/** 50 programs: the figure, a busy host's worth of services. */
export const PROGRAMS = 50;
/**
 * How long everything runs before it is measured: past every contender's start grace
 * (supervisord's startsecs, PM2's min_uptime, noops' start_grace), and (full run) long enough
 * for the runtimes to give back their start-up memory (V8's memory reducer acts after about 40 s
 * of calm), so the memory figure is the steady state, not the start.
 */
const SETTLE_MS = { quick: 10_000, full: 60_000 };
/** The most a crashed program may take to run again before the sample counts as lost. */
const RESTART_TIMEOUT_MS = 30_000;
/** A pause between crashes, so they do not overlap in any supervisor's loop. */
const BETWEEN_CRASHES_MS = 300;

export interface ContenderResult {
  name: string;
  version: string | null;
  setup: string;
  skipped: string | null;
  /** the supervisor's own memory and CPU with PROGRAMS programs */
  rssMiB: number | null;
  cpuPercent: number | null;
  /** crash -> running again, ms */
  restartMs: { samples: number[]; p50: number; p90: number; min: number; max: number; lost: number } | null;
}

export interface SupervisorBenchResult {
  programs: number;
  windowS: number;
  crashes: number;
  cores: number;
  loadAvg1m: number;
  contenders: ContenderResult[];
  table: string;
}

/**
 * Runs every contender at once, each with its own 50 programs, so that they all see the same
 * machine: the memory and CPU windows are the same seconds, and the crashes go round-robin
 * (the order rotating every round), so other work on the machine falls on all of them alike.
 */
export async function run(opts: { quick: boolean }): Promise<SupervisorBenchResult> {
  const windowMs = opts.quick ? 5_000 : 30_000;
  const crashes = opts.quick ? 10 : 40;
  const settleMs = opts.quick ? SETTLE_MS.quick : SETTLE_MS.full;
  const live: Live[] = [];
  const skipped: ContenderResult[] = [];
  try {
    for (const c of CONTENDERS) {
      const version = c.version();
      if (version === undefined) {
        skipped.push({ name: c.name, version: null, setup: c.setup, skipped: c.missing, rssMiB: null, cpuPercent: null, restartMs: null });
        continue;
      }
      process.stderr.write(`bench supervisor: starting ${c.name} ${version} with ${PROGRAMS} programs\n`);
      const dir = mkdtempSync(join(tmpdir(), `noops-bench-sup-${c.name}-`));
      const starts = join(dir, 'starts');
      mkdirSync(starts);
      const programs = Array.from({ length: PROGRAMS }, (_, i) => ({ name: `p${i}`, script: programScript(starts, `p${i}`) }));
      const l: Live = { c, version, dir, starts, running: undefined, samples: [] };
      live.push(l);
      l.running = await c.start(dir, programs);
      await untilAllRunning(
        starts,
        programs.map((p) => p.name),
        120_000,
      );
    }
    process.stderr.write(`bench supervisor: settling ${settleMs / 1000} s, then ${windowMs / 1000} s of steady state\n`);
    await sleep(settleMs);
    const costs = await Promise.all(live.map((l) => steadyCost(() => l.running!.pids(), windowMs)));
    process.stderr.write(`bench supervisor: ${crashes} crashes each, round-robin\n`);
    for (let i = 0; i < crashes; i++) {
      for (let k = 0; k < live.length; k++) {
        const l = live[(i + k) % live.length]!;
        l.samples.push(round(await crashToRunning(l.starts, `p${i % PROGRAMS}`, RESTART_TIMEOUT_MS), 2));
        await sleep(BETWEEN_CRASHES_MS);
      }
    }
    const results = [...live.map((l, i) => result(l, costs[i]!)), ...skipped];
    return {
      programs: PROGRAMS,
      windowS: windowMs / 1000,
      crashes,
      cores: cpus().length,
      loadAvg1m: round(loadavg()[0]!, 2),
      contenders: results,
      table: table(results),
    };
  } finally {
    for (const l of live) {
      await l.running?.stop().catch(() => undefined);
      killLeftovers(l.starts);
      rmSync(l.dir, { recursive: true, force: true });
    }
  }
}

/** A contender that runs. */
interface Live {
  c: Contender;
  version: string;
  dir: string;
  starts: string;
  running: Running | undefined;
  samples: number[];
}

function result(l: Live, cost: { rssMiB: number; cpuPercent: number }): ContenderResult {
  const ok = l.samples.filter((v) => Number.isFinite(v));
  return {
    name: l.c.name,
    version: l.version,
    setup: l.c.setup,
    skipped: null,
    rssMiB: cost.rssMiB,
    cpuPercent: cost.cpuPercent,
    restartMs: {
      samples: l.samples,
      p50: percentile(ok, 50),
      p90: percentile(ok, 90),
      min: ok.length ? Math.min(...ok) : NaN,
      max: ok.length ? Math.max(...ok) : NaN,
      lost: l.samples.length - ok.length,
    },
  };
}

/** Whatever a contender left running of the programs (they recorded their pids) is killed. */
function killLeftovers(starts: string): void {
  for (const name of readdirSync(starts)) {
    const s = readStart(starts, name);
    if (s === undefined) continue;
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The Markdown table of docs/benchmarks.md. */
export function table(results: readonly ContenderResult[]): string {
  const f = (v: number | null | undefined, unit = ''): string => (v === null || v === undefined || Number.isNaN(v) ? '-' : `${v}${unit}`);
  const rows = results.map((r) =>
    r.skipped
      ? `| ${r.name} | - | ${r.skipped} | | | |`
      : `| ${r.name} | ${r.version} | ${f(r.restartMs?.p50, ' ms')} | ${f(r.restartMs?.p90, ' ms')} | ${f(r.rssMiB, ' MiB')} | ${f(r.cpuPercent, ' %')} |`,
  );
  return [
    '| supervisor | version | crash to running, p50 | p90 | own memory (RSS), 50 programs | own CPU, 50 programs |',
    '|---|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const result = await run({ quick });
  const dir = new URL('../results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'supervisor.json'),
    `${JSON.stringify({ name: 'supervisor', quick, at: new Date().toISOString(), results: result }, null, 2)}\n`,
  );
  process.stdout.write(`${result.table}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: Error) => {
    process.stderr.write(`bench supervisor: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
