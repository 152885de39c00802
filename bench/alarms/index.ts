/**
 * From a process's death to its alarm at a callback (issue 15; goal: under one collection step
 * plus 1 s). A real `noops server` (SQLite) and a real `noops agent --metrics-every 1s`; a
 * strategy `all(#1) == 0` on `common.servicerunning` at the company's node, priority 0 (sent at
 * once), and a local HTTP callback receiver; a job beneath the node whose process has
 * `restart: never`. Then, several times: SIGKILL the process, time until the PROBLEM reaches
 * the callback; `noops ctl start` it, time until the OK does.
 *
 * The path measured: the agent's next collection sees the process gone (up to one step), its
 * report carries the point, the server's ingestion stores it and tells the bus `points`, the
 * judge loop reads and judges it, stores the event with what it owes the callback, and the
 * deliverer posts it.
 *
 *   node --import tsx bench/alarms/index.ts [--quick]     (or: npm run bench -- --only alarms)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ApiClient, type InstanceView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  commitFiles,
  freePort,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from '../../test/e2e/harness.js';
import { summarize } from '../lib/stats.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const RESULTS = join(HERE, '..', 'results', 'alarms.json');
const JOB = 'cop.bench_owt.ops_pdl.alarms_service.mon_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
/** The agent's collection step. */
const STEP_MS = 1000;
/** The goal: one collection step plus 1 s. */
const GOAL_MS = STEP_MS + 1000;
const DEATHS = { quick: 3, full: 12 };

export interface AlarmsResults {
  bench: 'alarms';
  at: string;
  machine: { cpus: number; node: string; loadavg: number[] };
  quick: boolean;
  stepMs: number;
  goalMs: number;
  func: string;
  /** SIGKILL to the PROBLEM at the callback, ms */
  deathToProblem: { n: number; p50: number; p99: number; max: number };
  /** `noops ctl start` answered to the OK at the callback, ms */
  startToOk: { n: number; p50: number; p99: number; max: number };
  samples: { deathToProblemMs: number[]; startToOkMs: number[] };
}

const ok = (r: { code: number; stdout: string; stderr: string }, what: string): void => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stdout}${r.stderr}`);
};

/** Runs the benchmark; writes and answers the results. */
export async function run(opts: { quick: boolean }): Promise<AlarmsResults> {
  const base = tmp('bench-alarms');
  const root = join(base, 'agent-h1');
  const calls: { at: number; status: string | null }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      calls.push({ at: performance.now(), status: new URLSearchParams(body).get('status') });
      res.end('ok');
    });
  });
  let server: ServerProc | undefined;
  let agent: Proc | undefined;
  try {
    // every PROBLEM point is sent (up to --max), not one per 300 s: each death is its own alarm
    process.env.NOOPS_JUDGE_MIN_INTERVAL = '0';
    try {
      server = await startServer(join(base, 'server'), await freePort());
    } finally {
      delete process.env.NOOPS_JUDGE_MIN_INTERVAL;
    }
    const srv = server;
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const cbUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/falcon`;
    const func = 'all(#1)';
    ok(
      await cli(srv, [
        'strategy',
        'add',
        '-t',
        'cop=bench',
        '--metric',
        'common.servicerunning',
        '--func',
        func,
        '--op',
        '==',
        '--right',
        '0',
        '--max',
        '1',
        '--priority',
        '0',
      ]),
      'strategy add',
    );
    ok(await cli(srv, ['alarm', 'callback', 'add', cbUrl]), 'callback add');
    agent = startAgent(srv, root, 'h1', 'rack=r1', {}, ['--metrics-every', `${STEP_MS / 1000}s`]);
    await until('h1 joined', async () => (await cliJson<unknown[]>(srv, ['hosts'])).length === 1, 60_000);
    const repo = join(base, 'repo');
    const commit = commitFiles(
      repo,
      {
        'server.js': `require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\nprocess.on('SIGTERM', () => process.exit(0));\n`,
        'noops.yaml': 'processes:\n  web:\n    command: node server.js\n    restart: never\n',
      },
      'v1',
    );
    ok(await cli(srv, ['build', '-u', repo, '-t', JOB, '-v', commit]), 'build');
    ok(await cli(srv, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1']), 'cluster set');
    ok(await cli(srv, ['deploy', '-t', CLUSTER, '-v', commit.slice(0, 9)]), 'deploy');
    const ps = async () => (await cliJson<InstanceView[]>(srv, ['ps', '-t', CLUSTER])).find((r) => r.process === 'web');
    const upPid = () =>
      until(
        'web up',
        async () => {
          const row = await ps();
          return row?.state === 'up' ? (row.pid ?? undefined) : undefined;
        },
        60_000,
      );
    let pid = await upPid();
    // the series stored and out of trouble (a deploy raises nothing: `starting` counts as running)
    const api = new ApiClient(srv.url, srv.adminToken);
    await until(
      'common.servicerunning stored',
      async () => (await api.metrics({ selector: 'cop=bench', metric: 'common.servicerunning' })).length > 0,
      60_000,
    );
    await until('no alarm in trouble', async () => (await cliJson<unknown[]>(srv, ['alarms', '--status', 'problem'])).length === 0, 60_000);
    const deathToProblem: number[] = [];
    const startToOk: number[] = [];
    for (let i = 0; i < (opts.quick ? DEATHS.quick : DEATHS.full); i++) {
      const from = calls.length;
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      const problem = await until('the PROBLEM at the callback', () => calls.slice(from).find((c) => c.status === 'PROBLEM'), 60_000, 5);
      deathToProblem.push(problem.at - killedAt);
      await until('web exited', async () => (await ps())?.state === 'exited', 60_000);
      const again = calls.length;
      const startedAt = performance.now();
      // `ctl start` exits 2 while the process is still starting (as `ctl status` does)
      const started = await cli(srv, ['ctl', '--root', root, 'start', 'web']);
      if (started.code !== 0 && started.code !== 2) ok(started, 'ctl start');
      const recovered = await until('the OK at the callback', () => calls.slice(again).find((c) => c.status === 'OK'), 60_000, 5);
      startToOk.push(recovered.at - startedAt);
      pid = await upPid();
      process.stderr.write(
        `bench alarms: death ${i + 1}: PROBLEM at the callback after ${Math.round(deathToProblem.at(-1)!)} ms, OK ${Math.round(startToOk.at(-1)!)} ms after the start\n`,
      );
    }
    const results: AlarmsResults = {
      bench: 'alarms',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) },
      quick: opts.quick,
      stepMs: STEP_MS,
      goalMs: GOAL_MS,
      func,
      deathToProblem: summarize(deathToProblem),
      startToOk: summarize(startToOk),
      samples: { deathToProblemMs: deathToProblem.map(Math.round), startToOkMs: startToOk.map(Math.round) },
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    return results;
  } finally {
    await agent?.stop();
    await server?.stop();
    killSupervised(root);
    receiver.closeAllConnections();
    receiver.close();
    cleanup([base]);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
