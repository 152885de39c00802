/**
 * The supervisor end to end: a release whose noops.yaml declares a health condition, a worker and
 * a cron, deployed by a real server to a real agent; then `noops ps`, `noops ctl`, `noops restart`,
 * `noops logs [-f]`, `noops events`, `noops crons`, the metrics API, an agent killed with SIGKILL
 * that adopts its processes, and `noops ctl nuke`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/index.js';
import { groupAlive } from '../../src/supervisor/index.js';
import type { CronView, EventView, HostView, InstanceView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  git,
  killSupervised,
  NOOPS,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.sup_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const base = tmp('sup');
const root = join(base, 'agent-h1');
let server: ServerProc;
let agent: Proc;

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

/** A web server whose /health fails while $NOOPS_DATA_DIR/sick holds its pid; a worker; a cron. */
function makeRepo(dir: string): string {
  git(base, 'init', '-q', dir);
  writeFileSync(
    join(dir, 'server.js'),
    `
const fs = require('fs');
const sick = () => { try { return fs.readFileSync(process.env.NOOPS_DATA_DIR + '/sick', 'utf8').trim() === String(process.pid); } catch { return false; } };
require('http').createServer((req, res) => {
  res.statusCode = req.url === '/health' && sick() ? 503 : 200;
  res.end(JSON.stringify({ pid: process.pid }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`,
  );
  writeFileSync(
    join(dir, 'noops.yaml'),
    `
processes:
  web:
    command: node server.js
    conditions:
      - http: /health
        interval: 0.5
        times: [2, 3]
  worker:
    command: 'while :; do echo "tick $(date +%s%N)"; sleep 0.2; done'
crons:
  stamp:
    schedule: "*/2 * * * * *"
    command: 'echo "ran $NOOPS_VERSION" >> "$NOOPS_DATA_DIR/stamps"'
`,
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'v1');
  return git(dir, 'rev-parse', 'HEAD');
}

const ctl = (...args: string[]) => cli(server, ['ctl', '--root', root, ...args]);
const ps = async (): Promise<InstanceView[]> => cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);

test('the supervisor through the server and on the host', { timeout: 600_000 }, async (t) => {
  server = await startServer(join(base, 'server'), await freePort());
  agent = startAgent(server, root, 'h1');
  await until('h1 joined', async () => (await cliJson<HostView[]>(server, ['hosts'])).length === 1, 60_000);
  const commit = makeRepo(join(base, 'repo'));
  const v1 = commit.slice(0, 9);
  assert.equal((await cli(server, ['build', '-u', join(base, 'repo'), '-t', JOB, '-v', commit])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1'])).code, 0);
  const deploy = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
  const dataDir = join(root, 'jobs', CLUSTER, 'shared', 'data');

  await t.test('ps --json: state, restarts and startedAt per process', async () => {
    const rows = await until(
      'both up',
      async () => {
        const r = await ps();
        return r.length === 2 && r.every((x) => x.state === 'up') && r;
      },
      60_000,
    );
    for (const r of rows) {
      assert.equal(r.restarts, 0);
      assert.ok(r.startedAt && Date.parse(r.startedAt) <= Date.now());
    }
  });

  await t.test('ctl status: name[pid]: state (start time), exit 0; stop is held and exits 1; start brings it back', async () => {
    const st = await ctl('status');
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`^${CLUSTER}/web\\[\\d+\\]: up \\(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\)$`, 'm'));
    assert.match(st.stdout, new RegExp(`^${CLUSTER}/stamp: (scheduled|running) \\(next `, 'm'));
    const stop = await ctl('stop', 'worker');
    assert.equal(stop.code, 1, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /\/worker: stopped \(stopped by request/);
    assert.equal((await ctl('status', 'cluster.prod')).code, 1);
    assert.equal((await ctl('status', 'nope')).code, 1, 'an unknown name is an error');
    const start = await ctl('start', 'worker');
    assert.match(start.stdout, /\/worker\[\d+\]: starting/);
    await until('worker up', async () => (await ctl('status', 'worker')).code === 0, 30_000);
  });

  await t.test('restart through the server: new pids, every process up', async () => {
    const before = await ps();
    const r = await cli(server, ['restart', '-t', CLUSTER]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^h1: .*\/web\[\d+\]: up/m);
    const after = await until(
      'the new pids reported',
      async () => {
        const rows = await ps();
        return rows.every((x) => x.state === 'up' && !before.some((b) => b.pid === x.pid)) && rows;
      },
      30_000,
    );
    assert.equal(after.length, 2);
    const audit = await cliJson<{ action: string; target: string }[]>(server, ['audit']);
    assert.ok(audit.some((a) => a.action === 'restart' && a.target === CLUSTER));
  });

  await t.test('logs through the server, and logs -f streaming until Ctrl-C', async () => {
    const r = await cli(server, ['logs', '-t', CLUSTER, '--host', 'h1', '-p', 'worker', '-n', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /==> .*worker\.out\.log <==\n(tick \d+\n){3}/);
    const follow = spawn(process.execPath, [NOOPS, 'logs', '-t', CLUSTER, '--host', 'h1', '-p', 'worker', '-n', '0', '-f'], {
      env: { ...process.env, NOOPS_SERVER: server.url, NOOPS_TOKEN: server.adminToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    follow.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => follow.once('exit', resolve));
    await until('streamed ticks', () => (out.match(/tick \d+/g) ?? []).length >= 3, 60_000);
    follow.kill('SIGINT');
    assert.equal(await exited, 0);
  });

  await t.test('an HTTP condition that starts failing restarts web; the event is reported', async () => {
    const web = (await ps()).find((r) => r.process === 'web')!;
    // `node server.js` is a simple command: the supervisor execs it, so the reported pid is node's.
    assert.equal(readFileSync(`/proc/${web.pid}/cmdline`, 'utf8').split('\0')[0], 'node');
    writeFileSync(join(dataDir, 'sick'), String(web.pid));
    const back = await until(
      'web restarted by its condition',
      async () => {
        const row = (await ps()).find((r) => r.process === 'web');
        return row && row.pid !== web.pid && row.state === 'up' && row.restarts === 1 && row;
      },
      60_000,
    );
    assert.ok(back);
    const events = await until(
      'the condition event',
      async () => {
        const e = await cliJson<EventView[]>(server, ['events', '-t', CLUSTER]);
        return e.some((x) => x.kind === 'condition') && e;
      },
      30_000,
    );
    const fired = events.find((e) => e.kind === 'condition')!;
    assert.equal(fired.host, 'h1');
    assert.equal(fired.name, 'web');
    assert.match(fired.message, /^http http:\/\/127\.0\.0\.1:\d+\/health \(code below 400\) \(2 of 3 checks\): HTTP 503; restarting$/);
  });

  await t.test('the cron runs on schedule with the job environment; its last run is visible', async () => {
    await until(
      'two runs',
      () => existsSync(join(dataDir, 'stamps')) && readFileSync(join(dataDir, 'stamps'), 'utf8').split('\n').length > 2,
      30_000,
    );
    assert.match(readFileSync(join(dataDir, 'stamps'), 'utf8'), new RegExp(`^(ran ${v1}\\n)+$`));
    const crons = await until(
      'reported',
      async () => {
        const c = await cliJson<CronView[]>(server, ['crons', '-t', CLUSTER]);
        return c[0]?.lastRun ? c : undefined;
      },
      30_000,
    );
    assert.equal(crons[0]!.name, 'stamp');
    assert.equal(crons[0]!.lastRun!.result, 'ok');
  });

  await t.test('metrics: common.servicerunning and friends, tagged with the full tag', async () => {
    const api = new ApiClient(server.url, server.adminToken);
    const running = await until(
      'metrics',
      async () => {
        const m = await api.metrics({ selector: 'cluster=prod,job=web', metric: 'common.servicerunning' });
        return m.length === 2 && m;
      },
      30_000,
    );
    // tags as Falcon stores them: sorted by key (issue 15's ingestion)
    assert.deepEqual(running.map((m) => m.tags).sort(), [
      'cluster=prod,cop=acme,job=web,owt=web,pdl=shop,process=web,service=sup',
      'cluster=prod,cop=acme,job=web,owt=web,pdl=shop,process=worker,service=sup',
    ]);
    const names = new Set((await api.metrics({ host: 'h1' })).map((m) => m.metric));
    for (const n of ['common.servicerunning', 'common.servicerestarts', 'common.serviceuptime', 'common.servicerss', 'common.servicecpu'])
      assert.ok(names.has(n), n);
  });

  await t.test('an agent killed with SIGKILL and started again adopts its processes without restarting them', async () => {
    const before = await ps();
    await agent.stop('SIGKILL');
    agent = startAgent(server, root, 'h1');
    await until('the new agent answers on its socket', async () => (await ctl('status')).code === 0, 60_000);
    const st = await ctl('status', '--json');
    const watches = JSON.parse(st.stdout) as { name: string; pid: number | null; kind: string }[];
    for (const b of before) assert.equal(watches.find((w) => w.name === b.process)?.pid, b.pid, `${b.process} kept its pid`);
    const events = JSON.parse((await ctl('events', '--json')).stdout) as { kind: string; name: string }[];
    assert.deepEqual(
      events
        .filter((e) => e.kind === 'adopted')
        .map((e) => e.name)
        .sort(),
      ['web', 'worker'],
    );
  });

  await t.test('ctl nuke stops every watch and the agent', async () => {
    const pids = (await ps()).map((r) => r.pid!);
    const r = await ctl('nuke');
    assert.equal(r.code, 0, r.stderr);
    await until('the agent exited', () => agent.child.exitCode !== null, 30_000);
    for (const pid of pids) assert.equal(groupAlive(pid), false, `group ${pid} is gone`);
    assert.equal((await ctl('status')).code, 1);
  });
});
