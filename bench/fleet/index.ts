/**
 * The fleet benchmark: one real `noops server`, simulated fleets of N agents (N = 100, 1,000,
 * 10,000; quick: 100 and 1,000), and 20 real agents as a reality check. See docs/benchmarks.md.
 *
 *   npm run bench -- --only fleet [--quick]
 *   NOOPS_BENCH_FLEET_TLS=1 npm run bench -- --only fleet --quick    the same over TLS (tls.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FULL, QUICK, payloadSizes, type FleetPlan } from './plan.js';
import { runReal } from './real-run.js';
import { goals, growthOf, render, type FleetResults } from './report.js';
import { makeSeed } from './seed.js';
import { onlyMode, runSimulated, stepsFor, type SimFigures } from './sim-run.js';
import { tlsVariant } from './tls.js';

/** Where the simulated agents' roots go: memory (their state files are written often, and a
 * real host's disk is its own, not shared by 10,000 agents). */
const SIM_ROOT = '/dev/shm';

export async function run(opts: { quick: boolean; log?: (line: string) => void }): Promise<unknown> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base: FleetPlan = opts.quick ? QUICK : FULL;
  // NOOPS_BENCH_FLEET_ONLY=MODE: one part of the plan alone (sim-run.ts); an unknown one stops here, before anything runs
  const part = onlyMode(process.env.NOOPS_BENCH_FLEET_ONLY);
  // NOOPS_BENCH_FLEET_SIZES=10000 (or 100,1000) runs only those simulated sizes.
  const only = process.env.NOOPS_BENCH_FLEET_SIZES?.split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const plan: FleetPlan = only?.length
    ? { ...base, sizes: only, realAgents: process.env.NOOPS_BENCH_FLEET_REAL === '0' ? 0 : base.realAgents }
    : base;
  const disk = mkdtempSync(join(tmpdir(), 'noops-bench-fleet-'));
  const mem = mkdtempSync(join(SIM_ROOT, 'noops-bench-fleet-'));
  try {
    if (tlsVariant()) log('fleet: over TLS (the server with --tls auto, every client pinned to its CA)');
    log(`fleet: building the seed releases (tiny, ${payloadSizes(plan).join(' MiB, ')} MiB)`);
    const seed = await makeSeed(join(disk, 'seed'), payloadSizes(plan));
    const simulated: SimFigures[] = [];
    const failed: { hosts: number; error: string }[] = [];
    for (const n of plan.sizes) {
      log(`fleet: ${n} simulated agents`);
      try {
        simulated.push(await runSimulated(n, stepsFor(plan, n, part), seed, join(mem, `n${n}`)));
      } catch (err) {
        // The other sizes' figures still count; this one is reported with its error.
        log(`fleet: ${n} simulated agents failed: ${(err as Error).message}`);
        failed.push({ hosts: n, error: (err as Error).message });
      }
    }
    let real: FleetResults['real'] = null;
    if (plan.realAgents > 0) {
      log(`fleet: ${plan.realAgents} real agents, then as many simulated ones`);
      const agents = await runReal(plan, seed, join(disk, 'real'));
      const sim = await runSimulated(
        plan.realAgents,
        // no warm-up: the real agents' rollouts beside them have none
        { heartbeatS: 0, propagationRuns: 0, rollouts: plan.realRollouts, warmUp: false, batch: plan.batch, leanLoads: [], fanOut: false },
        seed,
        join(mem, 'compare'),
      );
      real = { agents, simulated: sim };
    }
    const results: FleetResults = { simulated, real };
    process.stdout.write(
      `\n${tlsVariant() ? 'Over TLS: the server with --tls auto, every client pinned to its CA.\n\n' : ''}${render(results)}\n`,
    );
    for (const f of failed) process.stdout.write(`FAILED at ${f.hosts} simulated agents: ${f.error}\n`);
    return {
      plan,
      tls: tlsVariant(),
      failed,
      seed: { tinyA: seed.tinyA, tinyB: seed.tinyB, payload: seed.payload, ...(seed.warmUp && { warmUp: seed.warmUp }) },
      ...results,
      goals: goals(results),
      growth: growthOf(results),
    };
  } finally {
    rmSync(disk, { recursive: true, force: true });
    rmSync(mem, { recursive: true, force: true });
  }
}
