import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeployFigures } from './deploy.js';
import { goals, growthOf, perThousand, propagationMs, render, type FleetResults } from './report.js';
import { heapSpacesOf, type SimFigures } from './sim-run.js';

const deploy = (doneMs: number, receivedAllMs: number, extra: Partial<DeployFigures> = {}): DeployFigures => ({
  kind: 'deploy',
  version: 'abc1234',
  hosts: 0,
  status: 'succeeded',
  batches: 'all at once',
  apiMs: 100,
  receivedP50Ms: receivedAllMs / 2,
  receivedAllMs,
  upAllMs: doneMs,
  doneMs,
  downloadBytes: 0,
  serverWrittenBytes: 0,
  serverCpuMs: 500,
  serverCores: 0.5,
  agentsCpuMs: 100,
  agentsCores: 0.1,
  ...extra,
});

const sim = (hosts: number, scale: number): SimFigures => ({
  hosts,
  workers: 1,
  join: { ms: hosts * 2, serverCpuMs: hosts },
  firstDeploy: deploy(1000, 500),
  heartbeats: {
    agents: hosts,
    periodS: 5,
    windowS: 30,
    heartbeats: hosts * 6,
    perS: hosts / 5,
    errors: 0,
    latencyMs: { n: hosts * 6, p50: 2, p99: 10 * scale, max: 20 * scale },
    serverCores: 0.1,
    serverCpuUsPerBeat: 300,
    ceilingPerCore: 3000,
    fleetCores: 0.2,
    fleetLoopDelayP99Ms: 5,
  },
  propagation: [deploy(2000, 300 * scale), deploy(2000, 100 * scale), deploy(2000, 200 * scale)],
  rollback: deploy(1500 * scale, 200, { kind: 'rollback' }),
  rollouts: [
    ...(hosts <= 1000
      ? [
          {
            mib: 10,
            packageBytes: 10 << 20,
            rollout: deploy(9000, 300, { downloadBytes: hosts * (10 << 20), serverCpuMs: 2000, serverWrittenBytes: scale * (30 << 20) }),
            rollback: deploy(800, 100, { kind: 'rollback' }),
          },
        ]
      : []),
    ...(hosts <= 100
      ? [
          {
            mib: 100,
            packageBytes: 100 << 20,
            rollout: deploy(7000 * scale, 300, { downloadBytes: hosts * (100 << 20) }),
            rollback: deploy(300, 100, { kind: 'rollback' }),
          },
        ]
      : []),
  ],
  lean: {
    heartbeats: [
      {
        agents: hosts,
        rate: hosts / 5,
        answeredPerS: hosts / 5,
        sent: hosts,
        errors: 0,
        latencyMs: { n: hosts, p50: 1, p99: 4 * scale, max: 9 },
        serverCores: 0.2,
        serverCpuUsPerBeat: 250,
      },
    ],
    fanOut: { agents: hosts, p50Ms: 100 * scale, allMs: 150 * scale, answered: hosts, serverCpuMs: 100 },
  },
  serverRssBytes: 100 << 20,
  footprint: { idle: { fds: 30, rssBytes: 80 << 20 }, loaded: { fds: 30 + 2 * hosts, rssBytes: (80 << 20) + hosts * (20 << 10) } },
});

const results: FleetResults = { simulated: [sim(100, 1), sim(1000, 2), sim(10_000, 8)], real: null };

test('the propagation figure is the median run', () => {
  assert.equal(propagationMs(sim(100, 1)), 200);
});

test('goals are judged at the sizes they are stated for', () => {
  const g = goals(results);
  assert.deepEqual(
    g.map((x) => [x.statedAt, x.measuredAt, x.met]),
    [
      [10_000, 10_000, true], // 1.6 s as the agents see it (< 3 s)
      [10_000, 10_000, false], // 1.2 s on the server alone (< 1 s)
      [10_000, 10_000, false], // 80 ms
      [10_000, 10_000, true], // 32 ms
      [10_000, 10_000, true], // the deploy API call: 100 ms
      [10_000, 10_000, true], // 100 MB of RSS
      [1000, 1000, true], // 9 s
      [1000, 1000, false], // the server wrote 60 MiB
      [100, 100, true], // 100 MB to 100 hosts in 7 s
      [1000, 1000, false], // 3 s
    ],
  );
  assert.match(g[6]!.measured, /^9 s/);
  assert.equal(g[7]!.measured, '60 MiB');
  assert.match(g[8]!.measured, /^7 s \(/);
});

test('the 100 MB and server-bytes goals are judged only at their sizes', () => {
  const g = goals({ simulated: [sim(100, 2), sim(1000, 1)], real: null });
  const byGoal = new Map(g.map((x) => [x.goal, x]));
  const hundred = byGoal.get('rollout of a 100 MB release to 100 hosts, 10% batches')!;
  assert.deepEqual([hundred.measuredAt, hundred.met, hundred.measured], [100, false, '14 s (all at once)']);
  const bytes = byGoal.get('bytes the server process wrote during that rollout')!;
  assert.deepEqual([bytes.measuredAt, bytes.met, bytes.measured], [1000, true, '30 MiB']);
  // a run without the 100-host fleet does not take the 100 MB goal from another size
  const thousand = sim(1000, 1);
  const elsewhere = { ...thousand, rollouts: [...thousand.rollouts, { ...sim(100, 1).rollouts[1]!, mib: 100 }] };
  const without = goals({ simulated: [elsewhere], real: null }).find((x) => x.goal === hundred.goal)!;
  assert.deepEqual([without.measuredAt, without.met], [null, null]);
});

test("a run of the rollouts alone judges the rollback by the 10 MB rollout's, and says so", () => {
  const rolloutsOnly = { ...sim(1000, 1), rollback: null };
  const rb = goals({ simulated: [rolloutsOnly], real: null }).find((x) => x.goal.startsWith('rollback of 1,000'))!;
  assert.deepEqual([rb.measuredAt, rb.met, rb.measured], [1000, true, '0.8 s (after the 10 MB rollout)']);
  const withOwn = goals({ simulated: [sim(1000, 1)], real: null }).find((x) => x.goal.startsWith('rollback of 1,000'))!;
  assert.deepEqual([withOwn.met, withOwn.measured], [true, '1.5 s'], 'the rollback of the propagation runs when there is one');
});

test('a quick run (no 10,000) shows its largest size but judges no 10,000-host goal', () => {
  const g = goals({ simulated: [sim(100, 1), sim(1000, 2)], real: null });
  const large = g.filter((x) => x.statedAt === 10_000);
  assert.equal(large.length, 6);
  for (const x of large) {
    assert.equal(x.measuredAt, 1000, x.goal);
    assert.equal(x.met, null, x.goal);
  }
  // the 1,000-host goals are judged as before
  assert.deepEqual(
    g.filter((x) => x.statedAt === 1000).map((x) => x.met),
    [true, false, false],
  );
  const text = render({ simulated: [sim(100, 1), sim(1000, 2)], real: null });
  const table = text.slice(text.indexOf('Goals'));
  for (const line of table.split('\n').filter((l) => l.includes('10,000'))) assert.match(line, /not measured$/, line);
});

test('what the server needs per 1,000 agents: what the agents added to the idle server, scaled', () => {
  assert.deepEqual(perThousand(sim(1000, 1)), { fds: 2000, rssMiB: 19.5 });
  assert.equal(perThousand({ ...sim(1000, 1), footprint: undefined }), null);
});

test('growth with N, and the tables render', () => {
  const growth = growthOf(results);
  assert.deepEqual(growth.joinMs, { exponent: 1, word: 'linear' });
  assert.deepEqual(growth.serverCpuPerHeartbeatUs, { exponent: 0, word: 'flat' });
  const text = render(results);
  for (const title of [
    'control plane',
    'what the server needs',
    'the server alone, heartbeats',
    'parked long polls',
    'rollouts and rollbacks',
    'Goals',
    'Growth',
  ]) {
    assert.ok(text.includes(title), title);
  }
});

test("the server's memory after the deploys and settled: a row each, in MB; none without the reading", () => {
  const m = (rss: number, used: number) => ({
    rssBytes: rss << 20,
    heapUsedBytes: used << 20,
    heapTotalBytes: (used + 50) << 20,
    externalBytes: 7 << 20,
  });
  const parts = { rssAnonBytes: 510 << 20, rssFileBytes: 50 << 20 };
  const withMemory = { ...sim(1000, 1), serverMemory: { settleS: 30, afterDeploys: { ...m(560, 300), ...parts }, settled: m(450, 140) } };
  const text = render({ simulated: [withMemory], real: null });
  assert.match(text, /the server's memory right after the deploys/);
  assert.match(text, /after the deploys +560 +510 \/ 50 +300 +350 +7 +-\n/);
  assert.match(text, /30 s later +450 +- +140 +190 +7 +-\n/, 'no anonymous and file parts read: a dash');
  const spaces = heapSpacesOf(
    [
      'nodejs_heap_space_size_total_bytes{space="old"} 314572800',
      'nodejs_heap_space_size_used_bytes{space="old"} 209715200',
      'nodejs_heap_space_size_total_bytes{space="new"} 33554432',
      'nodejs_heap_space_size_used_bytes{space="new"} 1048576',
      'nodejs_heap_space_size_total_bytes{space="map"} 1000',
    ].join('\n'),
  );
  assert.deepEqual(spaces, {
    old: { totalBytes: 300 << 20, usedBytes: 200 << 20 },
    new: { totalBytes: 32 << 20, usedBytes: 1 << 20 },
    map: { totalBytes: 1000, usedBytes: 0 },
  });
  const settled = { ...withMemory.serverMemory.settled, spaces };
  const shown = render({ simulated: [{ ...withMemory, serverMemory: { ...withMemory.serverMemory, settled } }], real: null });
  assert.match(shown, /30 s later .* old 300\/200, new 32\/1\n/, 'spaces under 1 MB left out');
  assert.doesNotMatch(render({ simulated: [sim(1000, 1)], real: null }), /the server's memory right after/);
});

test('the warm-up rollout has a row of its own, and the 10 MB goal judges the measured rollout after it', () => {
  const warm = {
    ...sim(1000, 2),
    warmUp: {
      mib: 10,
      packageBytes: 10 << 20,
      rollout: deploy(14_000, 400, { downloadBytes: 1000 * (10 << 20) }),
      rollback: deploy(900, 100, { kind: 'rollback' }),
    },
  };
  const r: FleetResults = { simulated: [sim(100, 1), warm], real: null };
  const ten = goals(r).find((x) => x.goal.startsWith('rollout of a 10 MB release'))!;
  // a guard: the goal is the measured rollout's, never the warm-up's
  assert.equal(ten.met, true, 'the 9 s rollout, not the 14 s warm-up');
  assert.match(ten.measured, /^9 s/);
  const text = render(r);
  const rows = text.slice(text.indexOf('rollouts and rollbacks')).split('\n');
  assert.equal(rows.filter((l) => /^simulated +1000 +10 +warm-up(?! rollback) /.test(l)).length, 1, 'one warm-up row at 1,000');
  assert.equal(rows.filter((l) => /^simulated +1000 +10 +warm-up rollback +/.test(l)).length, 1, 'its rollback told apart');
  assert.equal(rows.filter((l) => /^simulated +1000 +10 +rollback +/.test(l)).length, 1, 'one rollback of the measured rollout');
  assert.ok(
    rows.findIndex((l) => / warm-up /.test(l)) < rows.findIndex((l) => /^simulated +1000 +10 +deploy /.test(l)),
    'shown before the rollouts measured after it',
  );
});
