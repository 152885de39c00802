/**
 * Replicas end to end (issue 18, docs/scheduler.md "Replicas"): a real server and one real agent
 * whose capacity is set by `--capacity`, a job built from a git repository (its process takes
 * `port: auto`), and the CLI as a user runs it. A scheduled cluster of count 3 on the one host
 * runs 3 replicas there (`web`, `web@2`, `web@3`), each on its own port, with its own log file
 * and NOOPS_REPLICA; `noops ps` lists them and naming answers 3 endpoints; `noops scale --count 1`
 * leaves the first one running (the same pid) and stops the others.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterPlanView, InstanceView, NamingAnswer } from '../../src/api/index.js';
import { procAlive } from '../../src/supervisor/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  killSupervised,
  makeAppRepo,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.replica_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const HOST = 'r1';
/** How long a change may take to show on a loaded 2-core machine (a tick, a deploy, reports, with room). */
const WAIT_MS = 90_000;

const base = tmp('replicas');
const root = join(base, `agent-${HOST}`);
let server: ServerProc;
let agent: Proc;
let v1 = '';

/** The endpoints naming answers for the cluster (`noops resolve --json`), by process name. */
async function named(): Promise<NamingAnswer['endpoints']> {
  const r = await cli(server, ['resolve', CLUSTER, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as NamingAnswer).endpoints.sort((a, b) => a.process.localeCompare(b.process));
}

/** The agent's state file: each process of the cluster's instance and its pid. */
function pids(): Record<string, number> {
  const file = join(root, 'state.json');
  if (!existsSync(file)) return {};
  const state = JSON.parse(readFileSync(file, 'utf8')) as { instances: Record<string, { processes: Record<string, { pid: number }> }> };
  return Object.fromEntries(Object.entries(state.instances[CLUSTER]?.processes ?? {}).map(([n, p]) => [n, p.pid]));
}

before(async () => {
  server = await startServer(join(base, 'server'), await freePort());
  agent = startAgent(server, root, HOST, 'rack=r1', {}, ['--capacity', 'cpu=4,memory=8G']);
  await until(
    'the host up with its capacity',
    async () => (await cliJson<{ status: string; capacity?: unknown }[]>(server, ['hosts'])).some((h) => h.status === 'up' && h.capacity),
    WAIT_MS,
  );
  const a = await cli(server, ['host', 'assign', HOST, '--scope', 'cop.acme_owt.web']);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const repo = join(base, 'repo');
  v1 = makeAppRepo(repo).commit('replicated').slice(0, 9);
  const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', v1]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
});

after(async () => {
  await agent?.stop('SIGKILL');
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

test('a cluster of count 3 on one host runs 3 replicas, naming answers 3 endpoints, and a scale to 1 leaves the first', {
  timeout: 300_000,
}, async () => {
  const set = await cli(server, ['cluster', 'set', '-t', CLUSTER, '--count', '3', '--cpu', '0.5', '--memory', '128M']);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  const plan = await cliJson<ClusterPlanView>(server, ['cluster', 'plan', '-t', CLUSTER]);
  assert.deepEqual(plan.placements, [{ host: HOST, count: 3 }], JSON.stringify(plan));
  const text = await cli(server, ['cluster', 'plan', '-t', CLUSTER]);
  assert.match(text.stdout, /3 instance\(s\) placed\n {2}on {7}r1 x3\n/);
  await until(
    'the loop to place the cluster',
    async () =>
      (await cliJson<{ tag: string; hosts: string[] }[]>(server, ['cluster', 'ls'])).some(
        (c) => c.tag === CLUSTER && c.hosts.join() === HOST,
      ),
    WAIT_MS,
  );
  const deploy = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);

  // three replicas, each with its own port, answering HTTP as its own process
  const three = await until('naming to answer 3 endpoints', async () => ((await named()).length === 3 ? named() : false), WAIT_MS, 250);
  assert.deepEqual(
    three.map((e) => [e.host, e.process, e.version]),
    [
      [HOST, 'web', v1],
      [HOST, 'web@2', v1],
      [HOST, 'web@3', v1],
    ],
  );
  assert.equal(new Set(three.map((e) => e.port)).size, 3, `one port each: ${JSON.stringify(three)}`);
  const served = await Promise.all(
    three.map(async (e) => ((await (await fetch(`http://127.0.0.1:${e.port}/`)).json()) as { pid: number }).pid),
  );
  assert.equal(new Set(served).size, 3, 'three processes answer');
  const ps = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  assert.deepEqual(
    ps.map((p) => p.process),
    ['web', 'web@2', 'web@3'],
  );
  // each replica writes its own log file and knows which it is
  const logDir = join(root, 'jobs', CLUSTER, 'shared', 'log');
  for (const n of ['web', 'web@2', 'web@3']) assert.ok(existsSync(join(logDir, `${n}.out.log`)), `${n}.out.log`);
  const env = readFileSync(`/proc/${pids()['web@2']}/environ`, 'utf8').split('\0');
  assert.ok(env.includes('NOOPS_REPLICA=2') && env.includes('NOOPS_REPLICAS=3') && env.includes('NOOPS_PROCESS=web'), env.join(' '));

  // scaled to 1: the first replica keeps running, the others stop, naming follows
  const first = pids().web!;
  const [p2, p3] = [pids()['web@2']!, pids()['web@3']!];
  const down = await cliJson<ClusterPlanView>(server, ['scale', '-t', CLUSTER, '--count', '1']);
  assert.deepEqual(down.placements, [{ host: HOST, count: 1 }], JSON.stringify(down));
  const one = await until('naming to answer 1 endpoint', async () => ((await named()).length === 1 ? named() : false), WAIT_MS, 250);
  assert.deepEqual(
    one.map((e) => [e.host, e.process]),
    [[HOST, 'web']],
  );
  await until('the other replicas stopped', () => !procAlive(p2, null) && !procAlive(p3, null), WAIT_MS);
  assert.deepEqual(pids(), { web: first }, 'the first replica was not restarted');
  assert.deepEqual(
    (await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER])).map((p) => p.process),
    ['web'],
  );
});
