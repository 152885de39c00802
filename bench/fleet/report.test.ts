import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeployFigures } from './deploy.js';
import { goals, growthOf, propagationMs, render, type FleetResults } from './report.js';
import type { SimFigures } from './sim-run.js';

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
  rollouts:
    hosts <= 1000
      ? [
          {
            mib: 10,
            packageBytes: 10 << 20,
            rollout: deploy(9000, 300, { downloadBytes: hosts * (10 << 20), serverCpuMs: 2000 }),
            rollback: deploy(800, 100, { kind: 'rollback' }),
          },
        ]
      : [],
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
});

const results: FleetResults = { simulated: [sim(100, 1), sim(1000, 2), sim(10_000, 8)], real: null };

test('the propagation figure is the median run', () => {
  assert.equal(propagationMs(sim(100, 1)), 200);
});

test('goals are judged at the sizes they are stated for', () => {
  const g = goals(results);
  assert.deepEqual(
    g.map((x) => [x.measuredAt, x.met]),
    [
      [10_000, false], // 1.6 s
      [10_000, false], // 1.2 s
      [10_000, false], // 80 ms
      [10_000, true], // 32 ms
      [1000, true], // 9 s
      [1000, false], // 3 s
    ],
  );
  assert.match(g[4]!.measured, /^9 s/);
});

test('a quick run (no 10,000) judges at its largest size and says so', () => {
  const g = goals({ simulated: [sim(100, 1), sim(1000, 2)], real: null });
  assert.equal(g[0]!.measuredAt, 1000);
});

test('growth with N, and the tables render', () => {
  const growth = growthOf(results);
  assert.deepEqual(growth.joinMs, { exponent: 1, word: 'linear' });
  assert.deepEqual(growth.serverCpuPerHeartbeatUs, { exponent: 0, word: 'flat' });
  const text = render(results);
  for (const title of ['control plane', 'the server alone, heartbeats', 'parked long polls', 'rollouts and rollbacks', 'Goals', 'Growth']) {
    assert.ok(text.includes(title), title);
  }
});
