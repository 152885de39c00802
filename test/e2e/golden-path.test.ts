/**
 * The golden path of stage 1, end to end, with a real git repository, a real server and three
 * real agents: build v1, deploy, request every instance over HTTP, build and deploy v2, roll
 * back, read the history; kill an instance and see it come back; restart the server and the
 * agents mid-way and see everything carry on.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { DeploymentView, HostView, InstanceView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  getJson,
  killSupervised,
  makeAppRepo,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const HOSTS = ['h1', 'h2', 'h3'];

const base = tmp('golden');
const data = join(base, 'server');
const roots = HOSTS.map((h) => join(base, `agent-${h}`));
let server: ServerProc;
let port: number;
const agents: Proc[] = [];

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  roots.forEach(killSupervised);
  cleanup([base]);
});

type Answer = { greeting: string; version: string; tag: string; kind: string; pid: number };

async function answers(): Promise<Answer[]> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  return Promise.all(rows.map((r) => getJson<Answer>(`http://127.0.0.1:${r.port}/`)));
}

test('build, deploy, upgrade, roll back, survive crashes and restarts', async (t) => {
  // The agents live under a folder whose package.json says "type": "module" (as in a project
  // checkout running `noops up`): the CommonJS test app must run as it would anywhere else.
  writeFileSync(join(base, 'package.json'), '{"type": "module"}\n');
  port = await freePort();
  server = await startServer(data, port);
  HOSTS.forEach((h, i) => {
    agents.push(startAgent(server, roots[i]!, h));
  });
  await until('three hosts up', async () => {
    const hosts = await cliJson<HostView[]>(server, ['hosts']);
    return hosts.filter((h) => h.status === 'up').length === 3 && hosts;
  });

  const repo = join(base, 'repo');
  const app = makeAppRepo(repo);
  const c1 = app.commit('hello v1');
  const v1 = c1.slice(0, 9);

  await t.test('build v1 from the git repository', async () => {
    const r = await cli(server, ['build', '-u', `file://${repo}`, '-t', JOB, '-v', c1]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`built ${JOB} ${v1}`));
    const [build] = await cliJson<{ version: string; sha256: string; status: string }[]>(server, [
      'build',
      '-u',
      repo,
      '-t',
      JOB,
      '-v',
      v1,
    ]);
    assert.equal(build!.version, v1);
    assert.equal(build!.status, 'succeeded');
    assert.match(build!.sha256, /^[0-9a-f]{64}$/);
  });

  await t.test('deploy v1 to the cluster and reach every instance over HTTP', async () => {
    const set = await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')]);
    assert.equal(set.code, 0, set.stderr);
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ps = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
    assert.deepEqual(
      ps.map((p) => [p.host, p.version, p.state]).sort(),
      HOSTS.map((h) => [h, v1, 'up']),
    );
    for (const p of ps) assert.ok(p.pid && p.port, `pid and port reported for ${p.host}`);
    const got = await answers();
    assert.deepEqual(
      got.map((a) => [a.greeting, a.version, a.tag]),
      HOSTS.map(() => ['hello v1', v1, CLUSTER]),
    );
    // a package this small goes whole (its desired state says so): fetched without asking the tracker first
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).text();
    assert.match(metrics, /^noops_http_requests_total\{method="GET",route="\/api\/v1\/artifacts\/:sha256",status="200"\} [1-9]/m);
    assert.doesNotMatch(metrics, /route="\/api\/v1\/agent\/pieces\/:sha256"/, 'no agent asked the tracker');
    const tree = await cli(server, ['tree', 'cop=acme']);
    assert.match(tree.stdout, /^cop\.acme \(3 hosts\)/);
    assert.match(tree.stdout, /cluster\.prod \(3 hosts\)/);
  });

  const c2 = app.commit('hello v2');
  const v2 = c2.slice(0, 9);

  await t.test('build and deploy v2', async () => {
    assert.equal((await cli(server, ['build', '-u', repo, '-t', JOB, '-v', c2])).code, 0);
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      (await answers()).map((a) => a.greeting),
      ['hello v2', 'hello v2', 'hello v2'],
    );
    for (const root of roots) {
      const current = (await import('node:fs')).readlinkSync(join(root, 'jobs', CLUSTER, 'current'));
      assert.equal(current, join('releases', v2));
    }
  });

  await t.test('roll back to v1 (the one before the current), recorded in the history', async () => {
    const r = await cli(server, ['rollback', '-t', CLUSTER]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /rollback #\d+ succeeded/);
    const got = await answers();
    assert.deepEqual(
      got.map((a) => [a.greeting, a.kind]),
      HOSTS.map(() => ['hello v1', 'rollback']),
    );
    const history = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
    assert.deepEqual(
      history.map((h) => [h.version, h.kind, h.status, h.hostCount, h.initiator]),
      [
        [v1, 'rollback', 'succeeded', 3, 'admin'],
        [v2, 'deploy', 'succeeded', 3, 'admin'],
        [v1, 'deploy', 'succeeded', 3, 'admin'],
      ],
    );
    for (const h of history) {
      assert.deepEqual(h.hosts, HOSTS);
      assert.ok(h.startedAt <= (h.endedAt ?? ''), 'ended after it started');
    }
  });

  await t.test('a killed instance comes back by itself', async () => {
    const [victim] = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
    process.kill(-victim!.pid!, 'SIGKILL');
    const back = await until('the instance to come back', async () => {
      const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
      const row = rows.find((r) => r.host === victim!.host);
      return row && row.pid !== victim!.pid && row.state === 'up' && row;
    });
    assert.equal(back.restarts, 1);
    const a = await getJson<Answer>(`http://127.0.0.1:${back.port}/`);
    assert.equal(a.greeting, 'hello v1');
  });

  await t.test('a restarted server: the agents carry on and deploys work again', async () => {
    const before = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
    await server.stop();
    // The hosts keep serving while the server is away.
    for (const p of before) assert.equal((await getJson<Answer>(`http://127.0.0.1:${p.port}/`)).greeting, 'hello v1');
    server = await startServer(data, port);
    await until(
      'three hosts up again',
      async () => (await cliJson<HostView[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 3,
    );
    // A partial tag naming the service stands for its one cluster.
    const r = await cli(server, ['deploy', '-t', 'service.api', '-v', v2]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      (await answers()).map((a) => a.greeting),
      ['hello v2', 'hello v2', 'hello v2'],
    );
  });

  await t.test('a restarted agent adopts its processes without restarting them', async () => {
    const before = (await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER])).find((r) => r.host === 'h1')!;
    await agents[0]!.stop('SIGKILL');
    const restartedAt = Date.now();
    agents[0] = startAgent(server, roots[0]!, 'h1');
    await until(
      'h1 to report again',
      async () => {
        const hosts = await cliJson<HostView[]>(server, ['hosts']);
        const h1 = hosts.find((h) => h.name === 'h1');
        return h1 && h1.status === 'up' && Date.parse(h1.lastHeartbeat!) > restartedAt;
      },
      60_000,
    );
    // A few more reports, so a restart of the process would have shown.
    await new Promise((r) => setTimeout(r, 1500));
    const now = (await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER])).find((r) => r.host === 'h1')!;
    assert.equal(now.pid, before.pid);
    assert.equal(now.state, 'up');
  });

  await t.test('a host whose agent stops shows as down', async () => {
    await agents[2]!.stop('SIGKILL');
    await until('h3 down', async () => (await cliJson<HostView[]>(server, ['hosts'])).find((h) => h.name === 'h3')?.status === 'down');
    agents[2] = startAgent(server, roots[2]!, 'h3');
    await until('h3 up', async () => (await cliJson<HostView[]>(server, ['hosts'])).find((h) => h.name === 'h3')?.status === 'up');
  });

  await t.test('the audit log records builds, deploys and rollbacks with their initiator', async () => {
    const audit = await cliJson<{ actor: string; action: string; target: string }[]>(server, ['audit', '-n', '200']);
    const actions = audit.map((a) => `${a.actor} ${a.action}`);
    for (const want of ['admin build', 'admin deploy', 'admin rollback', 'admin cluster.set'])
      assert.ok(actions.includes(want), `audit has "${want}"`);
  });
});
