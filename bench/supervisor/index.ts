/**
 * The supervisor benchmark: noops against supervisord, god and PM2, side by side in one run.
 * Each supervises the same 50 programs; for each it measures
 *
 *   - its own resident memory and CPU with 50 programs, in steady state (the supervisor's
 *     process only, never its programs);
 *   - the time from a crash (SIGKILL of a program that has run for a while) to the program
 *     running again, as the program itself records it, once per program.
 *
 *   node --import tsx bench/supervisor/index.ts            full: a 30 s window, 20 crashes each
 *   node --import tsx bench/supervisor/index.ts --quick    a 5 s window, 5 crashes each
 *
 * Writes bench/results/supervisor.json and prints the table of docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTENDERS, type Contender } from './contenders.js';
import { crashToRunning, percentile, programScript, readStart, round, steadyCost, untilAllRunning } from './measure.js';

/** 50 programs: the figure, a busy host's worth of services. */
export const PROGRAMS = 50;
/** How long every program must have run before the first crash: past every contender's start grace (supervisord's startsecs, PM2's min_uptime, noops' start_grace). */
const SETTLE_MS = 5_000;
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

/** Runs every contender in turn (never two at once: they would share the CPU). */
export async function run(opts: { quick: boolean }): Promise<SupervisorBenchResult> {
  const windowMs = opts.quick ? 5_000 : 30_000;
  const crashes = opts.quick ? 5 : 20;
  const results: ContenderResult[] = [];
  for (const c of CONTENDERS) {
    process.stderr.write(`bench supervisor: ${c.name}\n`);
    results.push(await measure(c, windowMs, crashes));
  }
  return {
    programs: PROGRAMS, windowS: windowMs / 1000, crashes, cores: cpus().length, loadAvg1m: round(loadavg()[0]!, 2),
    contenders: results, table: table(results),
  };
}

async function measure(c: Contender, windowMs: number, crashes: number): Promise<ContenderResult> {
  const version = c.version() ?? null;
  const base = { name: c.name, version, setup: c.setup };
  if (version === null) return { ...base, skipped: c.missing, rssMiB: null, cpuPercent: null, restartMs: null };
  const dir = mkdtempSync(join(tmpdir(), `noops-bench-sup-${c.name}-`));
  const starts = join(dir, 'starts');
  mkdirSync(starts);
  const programs = Array.from({ length: PROGRAMS }, (_, i) => ({ name: `p${i}`, script: programScript(starts, `p${i}`) }));
  let running: Awaited<ReturnType<Contender['start']>> | undefined;
  try {
    running = await c.start(dir, programs);
    await untilAllRunning(starts, programs.map((p) => p.name), 120_000);
    await sleep(SETTLE_MS);
    const cost = await steadyCost(() => running!.pids(), windowMs);
    const samples: number[] = [];
    for (let i = 0; i < crashes; i++) {
      samples.push(round(await crashToRunning(starts, `p${i}`, RESTART_TIMEOUT_MS), 2));
      await sleep(BETWEEN_CRASHES_MS);
    }
    const ok = samples.filter((s) => Number.isFinite(s));
    return {
      ...base, skipped: null, rssMiB: cost.rssMiB, cpuPercent: cost.cpuPercent,
      restartMs: {
        samples, p50: percentile(ok, 50), p90: percentile(ok, 90), min: ok.length ? Math.min(...ok) : NaN,
        max: ok.length ? Math.max(...ok) : NaN, lost: samples.length - ok.length,
      },
    };
  } finally {
    await running?.stop().catch(() => undefined);
    killLeftovers(starts);
    rmSync(dir, { recursive: true, force: true });
  }
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
  const rows = results.map((r) => r.skipped
    ? `| ${r.name} | - | ${r.skipped} | | | |`
    : `| ${r.name} | ${r.version} | ${f(r.restartMs?.p50, ' ms')} | ${f(r.restartMs?.p90, ' ms')} | ${f(r.rssMiB, ' MiB')} | ${f(r.cpuPercent, ' %')} |`);
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
  writeFileSync(join(dir, 'supervisor.json'), `${JSON.stringify({ name: 'supervisor', quick, at: new Date().toISOString(), results: result }, null, 2)}\n`);
  process.stdout.write(`${result.table}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: Error) => {
    process.stderr.write(`bench supervisor: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
