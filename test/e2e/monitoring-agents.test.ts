/**
 * Alarms end to end with a real agent (issue 15, "How it is checked"): a real `noops server`
 * (SQLite, NOOPS_JUDGE_MIN_INTERVAL=0) and a real `noops agent --metrics-every 1s`. A strategy on
 * `common.servicerunning` at the company's node and a callback to a real HTTP server are made
 * first; then a job beneath that node is built and deployed. Its process (restart: never, so the
 * supervisor leaves it `exited`) is killed with SIGKILL: a PROBLEM for that instance's series is
 * stored and reaches the callback; `noops ctl start` brings it back: an OK is stored and reaches
 * the callback too. The time from the kill to the PROBLEM at the callback is a diagnostic.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiClient, type AlarmView, type HostView, type InstanceView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  git,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.mon_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
/** the instance's series: Falcon's tags, sorted by key */
const TAGS = 'cluster=prod,cop=acme,job=web,owt=web,pdl=shop,process=web,service=mon';
/** the same as Falcon's callback sends them */
const FALCON_TAGS = TAGS.replaceAll('=', ':');
const base = tmp('monagents');
const root = join(base, 'agent-h1');
let server: ServerProc | undefined;
let agent: Proc | undefined;
const calls: { at: number; form: URLSearchParams }[] = [];
const callback = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => {
    body += c.toString();
  });
  req.on('end', () => {
    calls.push({ at: performance.now(), form: new URLSearchParams(body) });
    res.end('ok');
  });
});

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  callback.closeAllConnections();
  callback.close();
  cleanup([base]);
});

/** A long-running web process the supervisor does not restart once it dies. */
function makeRepo(dir: string): string {
  git(base, 'init', '-q', dir);
  writeFileSync(
    join(dir, 'server.js'),
    `
require('http').createServer((req, res) => res.end(JSON.stringify({ pid: process.pid }))).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`,
  );
  writeFileSync(
    join(dir, 'noops.yaml'),
    `
processes:
  web:
    command: node server.js
    restart: never
`,
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'v1');
  return git(dir, 'rev-parse', 'HEAD');
}

const ok = (r: { code: number; stdout: string; stderr: string }, what: string) =>
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);

test('a killed process of an instance deployed under a strategy alerts, recovers, reaches a callback', { timeout: 600_000 }, async (t) => {
  // the judge's test setting: every PROBLEM point is sent (up to --max), not one per 300 s
  process.env.NOOPS_JUDGE_MIN_INTERVAL = '0';
  try {
    server = await startServer(join(base, 'server'), await freePort());
  } finally {
    delete process.env.NOOPS_JUDGE_MIN_INTERVAL;
  }
  const srv = server;
  await new Promise<void>((r) => callback.listen(0, '127.0.0.1', r));
  const cbUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/falcon`;

  // 1. the strategy at a high node and the callback, before anything is deployed beneath it
  ok(
    await cli(srv, [
      'strategy',
      'add',
      '-t',
      'cop=acme',
      '--metric',
      'common.servicerunning',
      '--func',
      'all(#2)',
      '--op',
      '==',
      '--right',
      '0',
      '--max',
      '3',
      '--priority',
      '0',
      '--note',
      'process down',
    ]),
    'strategy add',
  );
  ok(await cli(srv, ['alarm', 'callback', 'add', cbUrl]), 'callback add');

  // 2. then a job beneath it, deployed to a real agent collecting every second
  agent = startAgent(srv, root, 'h1', 'rack=r1', {}, ['--metrics-every', '1s']);
  await until('h1 joined', async () => (await cliJson<HostView[]>(srv, ['hosts'])).length === 1, 60_000);
  const commit = makeRepo(join(base, 'repo'));
  ok(await cli(srv, ['build', '-u', join(base, 'repo'), '-t', JOB, '-v', commit]), 'build');
  ok(await cli(srv, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1']), 'cluster set');
  ok(await cli(srv, ['deploy', '-t', CLUSTER, '-v', commit.slice(0, 9)]), 'deploy');
  const ps = async () => (await cliJson<InstanceView[]>(srv, ['ps', '-t', CLUSTER])).find((r) => r.process === 'web');
  const pid = await until(
    'web up',
    async () => {
      const row = await ps();
      return row?.state === 'up' ? (row.pid ?? undefined) : undefined;
    },
    60_000,
  );
  const api = new ApiClient(srv.url, srv.adminToken);
  const alarms = (status: string) => cliJson<AlarmView[]>(srv, ['alarms', '--status', status]);
  const ofSeries = (a: AlarmView) => a.endpoint === 'h1' && a.metric === 'common.servicerunning' && a.tags === TAGS;
  // the series is stored, and judged healthy (a `starting` process counts as running, so a deploy
  // raises no PROBLEM; should one come anyway, only what arrives after the kill is checked)
  await until(
    'common.servicerunning stored',
    async () => (await api.metrics({ selector: 'cop=acme', metric: 'common.servicerunning' })).some((m) => m.tags === TAGS),
    60_000,
  );
  await until('the series out of trouble', async () => (await alarms('problem')).filter(ofSeries).length === 0, 60_000, 500);
  const lastIdBefore = Math.max(0, ...(await alarms('all')).map((a) => a.id));
  const before = calls.length;
  t.diagnostic(`delivered during the deploy (process starting): ${calls.map((c) => c.form.get('status')).join(', ') || 'nothing'}`);

  // 3. SIGKILL: restart: never leaves it exited, so common.servicerunning goes 0
  const killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  await until('web exited', async () => (await ps())?.state === 'exited', 60_000);
  const problem = await until(
    'the PROBLEM stored',
    async () => (await alarms('problem')).find((a) => ofSeries(a) && a.id > lastIdBefore),
    90_000,
    500,
  );
  assert.equal(problem.status, 'PROBLEM');
  assert.equal(problem.leftValue, 0);
  assert.equal(problem.priority, 0);
  assert.equal(problem.func, 'all(#2)');
  assert.equal(problem.selector, 'cop=acme');
  assert.equal(problem.note, 'process down');
  assert.equal(problem.silenced, null);
  const since = () => calls.slice(before);
  const atCallback = await until('the PROBLEM at the callback', () => since().find((c) => c.form.get('status') === 'PROBLEM'), 60_000);
  t.diagnostic(`SIGKILL -> PROBLEM at the callback: ${(atCallback.at - killedAt).toFixed(0)} ms (metrics every 1 s, all(#2))`);
  // the first PROBLEM of the death (step 1) is the first delivered; more may follow, up to --max
  const first = (await alarms('all')).filter((a) => ofSeries(a) && a.status === 'PROBLEM' && a.id > lastIdBefore).at(-1)!;
  assert.equal(first.currentStep, 1);
  assert.deepEqual(
    ['endpoint', 'metric', 'status', 'step', 'priority', 'left_value', 'note', 'tags', 'alarm_id'].map((k) => atCallback.form.get(k)),
    ['h1', 'common.servicerunning', 'PROBLEM', '1', '0', '0', 'process down', FALCON_TAGS, String(first.id)],
  );

  // 4. run it again: the OK is stored and delivered
  // `ctl start` exits as `ctl status` does: 2 while the process is still starting
  const start = await cli(srv, ['ctl', '--root', root, 'start', 'web']);
  assert.match(start.stdout, /\/web\[\d+\]: (starting|up)/, start.stdout + start.stderr);
  await until('web up again', async () => (await ps())?.state === 'up', 60_000);
  const recovered = await until(
    'the OK stored',
    async () => (await alarms('all')).find((a) => ofSeries(a) && a.status === 'OK' && a.id > problem.id),
    90_000,
    500,
  );
  assert.equal(recovered.leftValue, 1);
  const okCall = await until('the OK at the callback', () => since().find((c) => c.form.get('status') === 'OK'), 60_000);
  assert.deepEqual(
    ['endpoint', 'metric', 'status', 'tags', 'left_value', 'alarm_id'].map((k) => okCall.form.get(k)),
    ['h1', 'common.servicerunning', 'OK', FALCON_TAGS, '1', String(recovered.id)],
  );
  assert.deepEqual((await alarms('problem')).filter(ofSeries), [], 'recovered: the series is no longer in trouble');
  const delivered = since().map((c) => c.form.get('status'));
  assert.equal(delivered.at(-1), 'OK', `the OK comes after the PROBLEMs (${delivered.join(', ')})`);
  assert.ok(
    delivered.slice(0, -1).every((s) => s === 'PROBLEM') && delivered.length <= 4,
    `at most --max 3 PROBLEMs, then one OK (${delivered.join(', ')})`,
  );
});
