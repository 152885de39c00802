/**
 * The scheduler's speed and quality (issue 18), on simulated hosts (src/schedule/ is pure: no
 * agents, no store). Each scenario runs in a fresh process (bench/scheduler/worker.ts):
 *
 *   hosts10k  10,000 hosts, 20,000 clusters of 1 to 50 instances (about 510,000 placements): the
 *             cost of a plan when clusters are small
 *   c1m       Nomad's C1M: 1,000 clusters of 1,000 on 5,000 hosts (1,000,000 instances)
 *   c2m       Nomad's C2M: 2,000 clusters of 1,000 on 6,100 hosts (2,000,000 instances)
 *
 * Each: placed on an empty fleet (placements per second, by the clock and per CPU second), planned
 * again (nothing may change), a rebalance of 100 moves planned, then 1 % of the hosts die and every cluster is planned again (their
 * instances placed elsewhere). Quality: hosts used against a lower bound, the spread over racks.
 *
 * Anchors: Nomad's C1M placed 1,000,000 containers on 5,000 hosts at about 3,750 placements/s;
 * its C2M took 22 minutes. Goals: 20,000 placements/s with 10,000 hosts; C2M under 150 s.
 *
 * Then `migration` (bench/scheduler/migration.ts, in its own process): a real server's scheduler
 * loop and rollout with simulated agents, the time from a host's death to its instances healthy
 * elsewhere (goal under 15 s with `down_after` 10 s; Nomad 20-30 s, Kubernetes about 6 minutes)
 * and no flapping when the host returns. `--quick`: 6 hosts, a cluster of 3, `down_after` 2 s.
 *
 *   node --import tsx bench/scheduler/index.ts [--quick]     (or: npm run bench -- --only scheduler)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
export const RESULTS = join(HERE, '..', 'results', 'scheduler.json');

/** One scenario, as the worker takes it. */
interface Scenario {
  name: string;
  hosts: number;
  clusters: number;
  count: number;
  mixed?: boolean;
}

const SCENARIOS: Record<'quick' | 'full', Scenario[]> = {
  quick: [
    { name: 'hosts10k', hosts: 10_000, clusters: 2_000, count: 50, mixed: true },
    { name: 'c1m', hosts: 1_000, clusters: 200, count: 200 },
    { name: 'c2m', hosts: 1_220, clusters: 400, count: 200 },
  ],
  full: [
    { name: 'hosts10k', hosts: 10_000, clusters: 20_000, count: 50, mixed: true },
    { name: 'c1m', hosts: 5_000, clusters: 1_000, count: 1_000 },
    { name: 'c2m', hosts: 6_100, clusters: 2_000, count: 1_000 },
  ],
};

/** The migration run: hosts, the cluster's count, the scheduler's `down_after`. */
const MIGRATION: Record<'quick' | 'full', { hosts: number; count: number; downAfterMs: number }> = {
  quick: { hosts: 6, count: 3, downAfterMs: 2_000 },
  full: { hosts: 20, count: 10, downAfterMs: 10_000 },
};
/** A migration run that has not ended by then has hung (a full one takes about 30 s). */
const MIGRATION_TIMEOUT_MS = 5 * 60_000;

/** Anchors and goals, written with the figures. */
export const ANCHORS = {
  nomadC1mPlacementsPerS: 3_750,
  nomadC2mS: 22 * 60,
  goalPlacementsPerS: 20_000,
  goalC2mS: 150,
  nomadMigrationS: [20, 30],
  kubernetesMigrationS: 360,
  goalMigrationS: 15,
};

function scenario(s: Scenario): Record<string, unknown> {
  const node = [
    process.execPath,
    '--expose-gc',
    '--max-old-space-size=4096',
    '--import',
    'tsx',
    join(HERE, 'worker.ts'),
    JSON.stringify(s),
  ];
  const r = spawnSync(node[0]!, node.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench/scheduler/worker.ts failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** What bench/scheduler/migration.ts prints. */
interface MigrationResult {
  hosts: number;
  count: number;
  downAfterS: number;
  deathToRunningElsewhereS: number;
  goalS: number;
  staleCopyStoppedS: number;
  flapped: boolean;
  met: boolean;
}

function migration(m: { hosts: number; count: number; downAfterMs: number }): MigrationResult {
  const args = ['--import', 'tsx', join(HERE, 'migration.ts'), '--hosts', String(m.hosts), '--count', String(m.count)];
  const r = spawnSync(process.execPath, [...args, '--down-after-ms', String(m.downAfterMs)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    timeout: MIGRATION_TIMEOUT_MS,
  });
  if (r.status !== 0) throw new Error(`bench/scheduler/migration.ts failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as MigrationResult;
}

/** The load averages (1, 5, 15 minutes) from /proc/loadavg: other work on the machine skews the clock. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** Runs every scenario; answers (and, run alone, writes) the results. */
export async function run(opts: { quick: boolean }): Promise<object> {
  const rows: Record<string, unknown>[] = [];
  const loadBefore = loadAverage();
  for (const s of opts.quick ? SCENARIOS.quick : SCENARIOS.full) {
    const row: Record<string, unknown> = { name: s.name, ...scenario(s), loadAvgAfter: loadAverage() };
    const place = row.place as { placed: number; wallS: number; perS: number; perCpuS: number };
    const quality = row.quality as { hostsUsed: number; hostsLowerBound: number };
    process.stderr.write(
      `bench scheduler: ${s.name}: ${place.placed} placed on ${s.hosts} hosts in ${place.wallS} s (${place.perS}/s by the clock, ${place.perCpuS} per CPU second); ${quality.hostsUsed} hosts used for a lower bound of ${quality.hostsLowerBound}; load ${row.loadAvgAfter}\n`,
    );
    rows.push(row);
  }
  const m = opts.quick ? MIGRATION.quick : MIGRATION.full;
  const moved = { ...migration(m), loadAvgAfter: loadAverage() };
  process.stderr.write(
    `bench scheduler: migration: ${m.count} instances on ${m.hosts} hosts, down_after ${m.downAfterMs / 1000} s: running elsewhere ${moved.deathToRunningElsewhereS} s after the death (goal ${moved.goalS} s), stale copy stopped ${moved.staleCopyStoppedS} s after the return, flapped: ${moved.flapped}; load ${moved.loadAvgAfter}\n`,
  );
  return { anchors: ANCHORS, loadAvgBefore: loadBefore, rows, migration: moved };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run({ quick: process.argv.includes('--quick') });
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ name: 'scheduler', at: new Date().toISOString(), ...results }, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
