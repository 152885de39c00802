/**
 * The fleet benchmark: one real `noops server`, simulated fleets of N agents (N = 100, 1,000,
 * 10,000; quick: 100 and 1,000), and 20 real agents as a reality check. See docs/benchmarks.md.
 *
 *   npm run bench -- --only fleet [--quick]
 *   NOOPS_BENCH_FLEET_TLS=1 npm run bench -- --only fleet --quick    the same over TLS (tls.ts)
 *   NOOPS_BENCH_FLEET_DB=postgres://... npm run bench -- --only fleet  the servers on PostgreSQL (pg.ts)
 *   NOOPS_BENCH_FLEET_ENV=100 npm run bench -- --only fleet          releases with 100 environment variables (seed.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FULL, QUICK, payloadSizes, type FleetPlan } from './plan.js';
import { runReal } from './real-run.js';
import { goals, growthOf, render, type FleetResults } from './report.js';
import { benchDb } from './pg.js';
import { dropSeed, makeSeed, type Seed, seedEnvVars } from './seed.js';
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
  // NOOPS_BENCH_FLEET_DB=postgres://...: the servers on PostgreSQL (pg.ts); a malformed one stops here too
  const db = benchDb();
  // NOOPS_BENCH_FLEET_ENV=N: the releases' manifests carry N environment variables (seed.ts); a bad N stops here too
  const envVars = seedEnvVars();
  const disk = mkdtempSync(join(tmpdir(), 'noops-bench-fleet-'));
  const mem = mkdtempSync(join(SIM_ROOT, 'noops-bench-fleet-'));
  let seed: Seed | undefined;
  try {
    if (tlsVariant()) log('fleet: over TLS (the server with --tls auto, every client pinned to its CA)');
    log(`fleet: building the seed releases (tiny, ${payloadSizes(plan).join(' MiB, ')} MiB)`);
    if (db) log('fleet: the servers on PostgreSQL (NOOPS_BENCH_FLEET_DB)');
    if (envVars > 0) log(`fleet: the releases carry ${envVars} environment variables (NOOPS_BENCH_FLEET_ENV)`);
    const built = await makeSeed(join(disk, 'seed'), payloadSizes(plan), db, envVars);
    seed = built;
    const simulated: SimFigures[] = [];
    const failed: { hosts: number; error: string }[] = [];
    for (const n of plan.sizes) {
      log(`fleet: ${n} simulated agents`);
      try {
        simulated.push(await runSimulated(n, stepsFor(plan, n, part), built, join(mem, `n${n}`)));
      } catch (err) {
        // The other sizes' figures still count; this one is reported with its error.
        log(`fleet: ${n} simulated agents failed: ${(err as Error).message}`);
        failed.push({ hosts: n, error: (err as Error).message });
      }
    }
    let real: FleetResults['real'] = null;
    if (plan.realAgents > 0) {
      log(`fleet: ${plan.realAgents} real agents, then as many simulated ones`);
      const agents = await runReal(plan, built, join(disk, 'real'));
      const sim = await runSimulated(
        plan.realAgents,
        // no warm-up: the real agents' rollouts beside them have none
        { heartbeatS: 0, propagationRuns: 0, rollouts: plan.realRollouts, warmUp: false, batch: plan.batch, leanLoads: [], fanOut: false },
        built,
        join(mem, 'compare'),
      );
      real = { agents, simulated: sim };
    }
    const results: FleetResults = { simulated, real };
    process.stdout.write(
      `\n${tlsVariant() ? 'Over TLS: the server with --tls auto, every client pinned to its CA.\n\n' : ''}${db ? 'The servers on PostgreSQL (NOOPS_BENCH_FLEET_DB).\n\n' : ''}${render(results)}\n`,
    );
    for (const f of failed) process.stdout.write(`FAILED at ${f.hosts} simulated agents: ${f.error}\n`);
    return {
      plan,
      tls: tlsVariant(),
      store: db ? 'postgres' : 'sqlite',
      envVars,
      failed,
      seed: { tinyA: built.tinyA, tinyB: built.tinyB, payload: built.payload, ...(built.warmUp && { warmUp: built.warmUp }) },
      ...results,
      goals: goals(results),
      growth: growthOf(results),
    };
  } finally {
    if (seed) await dropSeed(seed);
    rmSync(disk, { recursive: true, force: true });
    rmSync(mem, { recursive: true, force: true });
  }
}
