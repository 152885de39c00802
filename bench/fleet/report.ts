/**
 * The fleet benchmark's figures as tables, the goals met or missed, and how each cost grows
 * with N. Pure: results in, text and a summary out.
 */
import { growth, percentile, round } from '../lib/stats.js';
import { table, type Cell } from '../lib/table.js';
import type { DeployFigures } from './deploy.js';
import type { RealFigures } from './real-run.js';
import type { SimFigures } from './sim-run.js';

export interface FleetResults {
  simulated: SimFigures[];
  real: { agents: RealFigures; simulated: SimFigures } | null;
}

export interface Goal {
  goal: string;
  target: string;
  /** the fleet size the goal is stated for: it is judged only when measured there */
  statedAt: number;
  /** the fleet size the figure was measured at (below the goal's in a quick run; null: not at all) */
  measuredAt: number | null;
  measured: string;
  /** null: not measured at the size the goal is stated for (a figure at a smaller N is shown, not judged) */
  met: boolean | null;
}

const MB = 1024 * 1024;
const s = (ms: number | null | undefined): number | null => (ms === null || ms === undefined ? null : round(ms / 1000, 2));

/** The median over the propagation runs of the time for the change to reach every agent. */
export function propagationMs(f: SimFigures): number | null {
  const all = f.propagation.map((p) => p.receivedAllMs).filter((v): v is number => v !== null);
  return all.length ? percentile(all, 50) : null;
}

/** The median over the propagation runs of the deploy API call's time (every host at once). */
export function deployApiMs(f: SimFigures): number | null {
  return f.propagation.length
    ? percentile(
        f.propagation.map((p) => p.apiMs),
        50,
      )
    : null;
}

/** What the server needs per 1,000 agents: the open files and memory the agents added to an idle server, scaled. */
export function perThousand(f: SimFigures): { fds: number; rssMiB: number } | null {
  if (!f.footprint || f.hosts === 0) return null;
  const { idle, loaded } = f.footprint;
  return {
    fds: round(((loaded.fds - idle.fds) * 1000) / f.hosts, 0),
    rssMiB: round(((loaded.rssBytes - idle.rssBytes) * 1000) / f.hosts / MB, 1),
  };
}

/** Bytes a second the server sent per second of its own CPU time. */
function uploadPerCpuS(d: DeployFigures): number | null {
  return d.downloadBytes && d.serverCpuMs > 0 ? d.downloadBytes / (d.serverCpuMs / 1000) : null;
}

/** The fleet size of the large goals, and of the rollout ones. */
const LARGE = 10_000;
const MID = 1000;
/** The fleet size of the 100 MB rollout's goal. */
const SMALL = 100;
/**
 * What the server's process may write during a 10 MB release to 1,000 hosts: the goal for
 * what it sends (about one copy and its answers), read as its `wchar` (its own files too; not
 * PostgreSQL's writes, another process's).
 */
const SERVER_BYTES_GOAL = 50 * MB;

/**
 * One goal: judged when `f` was measured at the size the goal is stated for; a figure measured
 * at another size is shown with its N, and the goal is "not measured".
 */
function judge(
  goal: string,
  target: string,
  statedAt: number,
  f: SimFigures | undefined,
  value: { text: string; ok: boolean } | null,
): Goal {
  if (!f || value === null) return { goal, target, statedAt, measuredAt: null, measured: '-', met: null };
  return { goal, target, statedAt, measuredAt: f.hosts, measured: value.text, met: f.hosts === statedAt ? value.ok : null };
}

export function goals(r: FleetResults): Goal[] {
  const at = (n: number): SimFigures | undefined => r.simulated.find((f) => f.hosts === n) ?? r.simulated.filter((f) => f.hosts < n).at(-1);
  const big = at(LARGE);
  const mid = at(MID);
  const small = r.simulated.find((f) => f.hosts === SMALL);
  const rollout10 = mid?.rollouts.find((x) => x.mib === 10);
  const rollout100 = small?.rollouts.find((x) => x.mib === 100);
  const p = big ? propagationMs(big) : null;
  const fan = big?.lean.fanOut;
  const hb = big?.heartbeats;
  const lean = big?.lean.heartbeats[0];
  const api = big ? deployApiMs(big) : null;
  // the rollback after the propagation runs; in a run of the rollouts alone, the 10 MB rollout's
  // (both go back to a release every host holds on disk)
  const ownRollback = mid?.rollback ?? undefined;
  const rb = ownRollback ?? rollout10?.rollback;
  const rbAfter = ownRollback === undefined ? ' (after the 10 MB rollout)' : '';
  return [
    judge(
      'desired state reaches 10,000 agents (simulated agents, as they see it)',
      '< 3 s',
      LARGE,
      big,
      p === null ? null : { text: `${s(p)} s`, ok: p < 3000 },
    ),
    judge(
      'desired state reaches 10,000 agents (server alone, lean long polls)',
      '< 1 s',
      LARGE,
      big,
      fan ? { text: `${s(fan.allMs)} s`, ok: fan.allMs < 1000 } : null,
    ),
    judge(
      '10,000 agents heartbeating every 5 s: API p99 (simulated agents)',
      '< 50 ms',
      LARGE,
      big,
      hb ? { text: `${hb.latencyMs.p99} ms (${hb.perS}/s)`, ok: hb.latencyMs.p99 < 50 && hb.errors === 0 } : null,
    ),
    judge(
      '10,000 agents heartbeating every 5 s: API p99 (server alone, lean load)',
      '< 50 ms',
      LARGE,
      big,
      lean ? { text: `${lean.latencyMs.p99} ms (${lean.answeredPerS}/s)`, ok: lean.latencyMs.p99 < 50 && lean.errors === 0 } : null,
    ),
    judge(
      'deploy API call, 10,000 hosts (every host at once)',
      '< 0.5 s',
      LARGE,
      big,
      api === null ? null : { text: `${s(api)} s`, ok: api < 500 },
    ),
    judge(
      'server RSS with 10,000 agents',
      '< 500 MB',
      LARGE,
      big,
      big ? { text: `${round(big.serverRssBytes / MB, 0)} MB`, ok: big.serverRssBytes < 500 * MB } : null,
    ),
    judge(
      'rollout of a 10 MB release to 1,000 hosts, 10% batches',
      '< 10 s',
      MID,
      mid,
      rollout10 ? { text: `${s(rollout10.rollout.doneMs)} s (${rollout10.rollout.batches})`, ok: rollout10.rollout.doneMs < 10_000 } : null,
    ),
    judge(
      'bytes the server process wrote during that rollout',
      '< 50 MiB',
      MID,
      mid,
      rollout10
        ? {
            text: `${round(rollout10.rollout.serverWrittenBytes / MB, 1)} MiB`,
            ok: rollout10.rollout.serverWrittenBytes < SERVER_BYTES_GOAL,
          }
        : null,
    ),
    judge(
      'rollout of a 100 MB release to 100 hosts, 10% batches',
      '< 8 s',
      SMALL,
      small,
      rollout100
        ? { text: `${s(rollout100.rollout.doneMs)} s (${rollout100.rollout.batches})`, ok: rollout100.rollout.doneMs < 8000 }
        : null,
    ),
    judge(
      'rollback of 1,000 hosts to a release on disk',
      '< 2 s',
      MID,
      mid,
      rb ? { text: `${s(rb.doneMs)} s${rbAfter}`, ok: rb.doneMs < 2000 } : null,
    ),
  ];
}

/** How each cost grows with N (exponent of cost ~ N^k between the smallest and largest N). */
export function growthOf(r: FleetResults): Record<string, { exponent: number; word: string } | null> {
  const pts = (f: (x: SimFigures) => number | null | undefined): [number, number][] =>
    r.simulated
      .map((x) => [x.hosts, f(x)] as [number, number | null | undefined])
      .filter((p): p is [number, number] => typeof p[1] === 'number');
  return {
    joinMs: growth(pts((x) => x.join.ms)),
    serverCpuPerHeartbeatUs: growth(pts((x) => x.heartbeats?.serverCpuUsPerBeat)),
    heartbeatP99Ms: growth(pts((x) => x.heartbeats?.latencyMs.p99)),
    desiredToAllMs: growth(pts(propagationMs)),
    fanOutAllMs: growth(pts((x) => x.lean.fanOut?.allMs)),
    leanServerCpuPerHeartbeatUs: growth(pts((x) => x.lean.heartbeats[0]?.serverCpuUsPerBeat)),
    deployApiMs: growth(pts(deployApiMs)),
    deployServerCpuMs: growth(
      pts((x) =>
        percentile(
          x.propagation.map((p) => p.serverCpuMs),
          50,
        ),
      ),
    ),
    rollbackMs: growth(pts((x) => x.rollback?.doneMs)),
    serverRssBytes: growth(pts((x) => x.serverRssBytes)),
  };
}

export function render(r: FleetResults): string {
  const out: string[] = [];
  out.push(
    table(
      'Fleet: control plane, simulated agents (the real agent code) against one real server',
      [
        'agents',
        'join s',
        'beats/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'srv µs/beat',
        'agents cores',
        'desired->all s',
        'desired->half s',
        'deploy API s',
        'srv RSS MB',
      ],
      r.simulated.map((f): Cell[] => [
        f.hosts,
        s(f.join.ms),
        f.heartbeats?.perS,
        f.heartbeats?.latencyMs.p50,
        f.heartbeats?.latencyMs.p99,
        f.heartbeats?.errors,
        f.heartbeats?.serverCpuUsPerBeat,
        f.heartbeats?.fleetCores,
        s(propagationMs(f)),
        s(
          percentile(
            f.propagation.map((p) => p.receivedP50Ms ?? NaN),
            50,
          ),
        ),
        s(deployApiMs(f)),
        round(f.serverRssBytes / MB, 0),
      ]),
    ),
  );
  out.push(
    table(
      'Fleet: what the server needs (open files from /proc/PID/fd, RSS), idle and with every agent connected',
      ['agents', 'fds idle', 'fds', 'fds per 1,000 agents', 'RSS idle MB', 'RSS MB', 'RSS MiB per 1,000 agents'],
      r.simulated
        .filter((f) => f.footprint)
        .map((f): Cell[] => [
          f.hosts,
          f.footprint!.idle.fds,
          f.footprint!.loaded.fds,
          perThousand(f)?.fds,
          round(f.footprint!.idle.rssBytes / MB, 0),
          round(f.footprint!.loaded.rssBytes / MB, 0),
          perThousand(f)?.rssMiB,
        ]),
    ),
  );
  const memoryRows = r.simulated.filter((f) => f.serverMemory);
  if (memoryRows.length > 0) {
    const mb = (b: number): Cell => (Number.isFinite(b) ? round(b / MB, 0) : null);
    out.push(
      table(
        "Fleet: the server's memory right after the deploys, and after more seconds of the agents' heartbeats (MB)",
        ['agents', 'then', 'RSS', 'of it anonymous / files', 'V8 heap used', 'V8 heap allocated', 'buffers', 'by space: allocated/used'],
        memoryRows.flatMap((f) => {
          const m = f.serverMemory!;
          const row = (then: string, x: typeof m.settled): Cell[] => [
            f.hosts,
            then,
            mb(x.rssBytes),
            x.rssAnonBytes === undefined ? '-' : `${mb(x.rssAnonBytes)} / ${mb(x.rssFileBytes ?? Number.NaN)}`,
            mb(x.heapUsedBytes),
            mb(x.heapTotalBytes),
            mb(x.externalBytes),
            Object.entries(x.spaces ?? {})
              .filter(([, v]) => v.totalBytes >= MB)
              .map(([k, v]) => `${k} ${mb(v.totalBytes)}/${mb(v.usedBytes)}`)
              .join(', ') || '-',
          ];
          return [row('after the deploys', m.afterDeploys), row(`${m.settleS} s later`, m.settled)];
        }),
      ),
    );
  }
  out.push(
    table(
      'Fleet: the server alone, heartbeats paced as N agents send them (lean generator, open loop)',
      [
        'agents',
        'asked/s',
        'answered/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'slowest due at s',
        'errors',
        'srv cores',
        'srv µs/beat',
        'generator loop max ms',
      ],
      r.simulated.flatMap((f) =>
        f.lean.heartbeats.map((h): Cell[] => [
          f.hosts,
          h.rate,
          h.answeredPerS,
          h.latencyMs.p50,
          h.latencyMs.p99,
          h.latencyMs.max,
          h.slowestDueAtS,
          h.errors,
          h.serverCores,
          h.serverCpuUsPerBeat,
          h.generatorLoopMaxMs,
        ]),
      ),
    ),
  );
  out.push(
    table(
      'Fleet: the server alone, one desired-state change to N parked long polls',
      [
        'agents',
        'call s',
        'first answered s',
        'half answered s',
        'all answered s',
        'answered',
        'srv cpu s',
        'generator cpu s',
        'generator loop max ms',
      ],
      r.simulated
        .filter((f) => f.lean.fanOut)
        .map((f): Cell[] => [
          f.hosts,
          f.lean.fanOut!.callMs === undefined ? '-' : s(f.lean.fanOut!.callMs),
          f.lean.fanOut!.firstMs === undefined ? '-' : s(f.lean.fanOut!.firstMs),
          s(f.lean.fanOut!.p50Ms),
          s(f.lean.fanOut!.allMs),
          f.lean.fanOut!.answered,
          s(f.lean.fanOut!.serverCpuMs),
          f.lean.fanOut!.generatorCpuMs === undefined ? '-' : s(f.lean.fanOut!.generatorCpuMs),
          f.lean.fanOut!.generatorLoopMaxMs ?? '-',
        ]),
    ),
  );
  const deployRows = (label: string, hosts: number, mib: number | null, d: DeployFigures, kind: string = d.kind): Cell[] => [
    label,
    hosts,
    mib,
    kind,
    d.batches,
    s(d.receivedAllMs),
    s(d.upAllMs),
    s(d.doneMs),
    d.downloadBytes === null ? null : round(d.downloadBytes / MB / 1024, 2),
    round(d.serverWrittenBytes / MB / 1024, 2),
    d.serverCores,
    uploadPerCpuS(d) === null ? null : round(uploadPerCpuS(d)! / MB, 0),
    round(d.agentsCpuMs / 1000, 1),
  ];
  const rows: Cell[][] = [];
  for (const f of r.simulated) {
    if (f.rollback) rows.push(deployRows('simulated', f.hosts, 0, f.rollback));
    // the warm-up: the first rollout in pieces of a fresh server and workers (sim-run.ts), not judged
    if (f.warmUp)
      rows.push(
        deployRows('simulated', f.hosts, f.warmUp.mib, f.warmUp.rollout, 'warm-up'),
        deployRows('simulated', f.hosts, f.warmUp.mib, f.warmUp.rollback, 'warm-up rollback'),
      );
    for (const x of f.rollouts)
      rows.push(deployRows('simulated', f.hosts, x.mib, x.rollout), deployRows('simulated', f.hosts, x.mib, x.rollback));
  }
  if (r.real) {
    for (const [label, f] of [
      ['real', r.real.agents],
      ['simulated', r.real.simulated],
    ] as const) {
      for (const x of f.rollouts) rows.push(deployRows(label, f.hosts, x.mib, x.rollout), deployRows(label, f.hosts, x.mib, x.rollback));
    }
  }
  out.push(
    table(
      'Fleet: rollouts and rollbacks (MiB 0: tiny release; rollback goes to a release on disk; warm-up: the first rollout in pieces of a fresh server and workers, not judged)',
      [
        'agents',
        'hosts',
        'MiB',
        'kind',
        'batches',
        'desired->all s',
        'all up s',
        'done s',
        'GiB downloaded',
        'GiB srv wrote',
        'srv cores',
        'srv MiB/cpu-s',
        'agents cpu s',
      ],
      rows,
    ),
  );
  out.push(
    table(
      'Goals (this machine)',
      ['goal', 'target', 'stated at N', 'measured at N', 'measured', 'met'],
      goals(r).map((g) => [g.goal, g.target, g.statedAt, g.measuredAt, g.measured, g.met === null ? 'not measured' : g.met ? 'yes' : 'NO']),
    ),
  );
  out.push(
    table(
      'Growth of cost with N (cost ~ N^k)',
      ['cost', 'k', 'growth'],
      Object.entries(growthOf(r)).map(([k, g]) => [k, g?.exponent, g?.word ?? 'one N only']),
    ),
  );
  return out.join('\n');
}
