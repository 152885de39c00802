/**
 * Several servers on one PostgreSQL (issue 14): how long a leader's death stops the control
 * loops, and what spreading the agents' long polls over three servers costs a desired-state
 * change, against one server.
 *
 * - takeover (takeover.ts): SIGKILL of the server leading `rollout`, until another leads it and
 *   until the running deployment's next write, for each lease (`noops server --lease-ms`);
 * - fan-out (fan-out.ts): N parked long polls over three servers, or all on one; one deploy
 *   through the first server; until every poll was answered with it.
 *
 * Needs PostgreSQL: NOOPS_TEST_PG_URL (CI sets it; scripts/pg-setup.sh prints it); without it,
 * the benchmark says so and measures nothing. Each run makes its own database and drops it.
 *
 *   npm run bench -- --only several-servers [--quick]    (results: bench/results/several-servers.json)
 */
import { round } from '../lib/stats.js';
import { cleanup, tmp } from '../../test/e2e/harness.js';
import { JOB, joinPaperHosts, startFleet } from './fleet.js';
import { fanOut, type FanOutRun } from './fan-out.js';
import { measureTakeover, type TakeoverRow } from './takeover.js';

/** Servers in the fleet: the figure (three real servers, one database). */
const SERVERS = 3;
/** Leases measured (ms): 1 s, the tests' 2 s, the default 5 s. */
const LEASES = { quick: [2000], full: [1000, 2000, 5000] };
/** Kills per lease. */
const KILLS = { quick: 2, full: 5 };
/** Parked polls: a fleet's worth on a 2-core machine without agent processes (NOOPS_BENCH_SEVERAL_POLLS=N sets it). */
const POLLS = { quick: 300, full: 3000 };
/** Each fan-out (three servers, one server) this many times, alternating. */
const FAN_OUT_RUNS = { quick: 2, full: 5 };
/** The lease while fan-out is measured: the default. */
const FAN_OUT_LEASE_MS = 5000;

export interface SeveralServersResults {
  bench: 'several-servers';
  skipped?: string;
  takeover: { skipped?: string; rows: TakeoverRow[] };
  fanOut: {
    polls: number;
    runs: FanOutRun[];
    /** medians over the runs of each layout (ms) */
    threeServers: { p50Ms: number; allMs: number | null };
    oneServer: { p50Ms: number; allMs: number | null };
  } | null;
}

const median = (xs: number[]): number => round([...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN);

/** Runs the benchmark; answers the figures (bench/run.ts writes them). */
export async function run(opts: { quick: boolean }): Promise<SeveralServersResults> {
  const pgUrl = process.env.NOOPS_TEST_PG_URL;
  if (!pgUrl) {
    const skipped = 'needs PostgreSQL: set NOOPS_TEST_PG_URL (scripts/pg-setup.sh prints it); nothing measured';
    process.stderr.write(`several-servers bench: ${skipped}\n`);
    return { bench: 'several-servers', skipped, takeover: { skipped, rows: [] }, fanOut: null };
  }
  const size = opts.quick ? 'quick' : 'full';
  const takeover: SeveralServersResults['takeover'] = { rows: [] };
  for (const leaseMs of LEASES[size]) {
    const dir = tmp(`bench-takeover-${leaseMs}`);
    const fleet = await startFleet(pgUrl, dir, SERVERS, leaseMs);
    try {
      takeover.rows.push(await measureTakeover(fleet, leaseMs, KILLS[size]));
    } finally {
      await fleet.stop();
      cleanup([dir]);
    }
  }
  return {
    bench: 'several-servers',
    takeover,
    fanOut: await measureFanOut(pgUrl, Number(process.env.NOOPS_BENCH_SEVERAL_POLLS) || POLLS[size], FAN_OUT_RUNS[size]),
  };
}

async function measureFanOut(pgUrl: string, polls: number, runs: number): Promise<SeveralServersResults['fanOut']> {
  const dir = tmp('bench-fan-out');
  const fleet = await startFleet(pgUrl, dir, SERVERS, FAN_OUT_LEASE_MS);
  try {
    const names = Array.from({ length: polls }, (_, i) => `fan-${String(i + 1).padStart(5, '0')}`);
    const hosts = await joinPaperHosts(fleet.nodes[0]!, names);
    const [first] = fleet.nodes;
    const out: FanOutRun[] = [];
    for (let i = 0; i < runs; i++) {
      // a cluster of its own each time: the one before is still rolling out (its hosts never report)
      for (const [layout, pollOn] of [
        ['three', fleet.nodes],
        ['one', [first!]],
      ] as const) {
        const r = await fanOut(hosts, [...pollOn], first!, `${JOB}_cluster.${layout}${i + 1}`, fleet.version);
        process.stderr.write(`several-servers bench: fan-out ${JSON.stringify(r)}\n`);
        out.push(r);
      }
    }
    const of = (servers: number) => {
      const rs = out.filter((r) => r.servers === servers);
      const all = rs.map((r) => r.allMs);
      return { p50Ms: median(rs.map((r) => r.p50Ms)), allMs: all.every((x) => x !== null) ? median(all as number[]) : null };
    };
    return { polls, runs: out, threeServers: of(SERVERS), oneServer: of(1) };
  } finally {
    await fleet.stop();
    cleanup([dir]);
  }
}
