/**
 * Undeploy, hosts leaving a cluster, and packages built elsewhere, end to end: a real server and
 * two real agents. An undeploy stops a cluster in its batches (the agents apply it even when it
 * stops everything they run: the desired state names it in `stops`), a host taken out of a
 * cluster stops what the cluster ran there only with --yes, and an imported package (a file, a
 * URL, a cluster.conf's pkg_url) deploys and rolls back like a built one.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { create } from 'tar';
import type { ClusterView, DeploymentView, InstanceView, ReleaseView } from '../../src/api/index.js';
import { procAlive } from '../../src/supervisor/index.js';
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

const JOB = 'cop.acme_owt.web_pdl.shop_service.gone_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const SIDE = `${JOB}_cluster.side`;
const HOSTS = ['u1', 'u2'] as const;

const base = tmp('undeploy');
const data = join(base, 'server');
const roots = Object.fromEntries(HOSTS.map((h) => [h, join(base, `agent-${h}`)])) as Record<string, string>;
let server: ServerProc;
const agents: Record<string, Proc> = {};
let v1 = '';

/** Packages served as a CI would: GET /NAME answers the file, anything else 404; requests counted. */
const served = new Map<string, Buffer>();
const fetched: string[] = [];
let files: Server;
let filesUrl = '';

/** Whether a process runs: a zombie does not (a container's PID 1 may never reap the orphans of a stopped agent). */
const alive = (pid: number): boolean => procAlive(pid, null);

/** pid per host of a cluster's web process, as the hosts report them. */
async function pids(tag: string): Promise<Record<string, number | null>> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', tag]);
  return Object.fromEntries(rows.map((r) => [r.host, r.pid]));
}

async function greetings(tag: string): Promise<string[]> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', tag]);
  return Promise.all(rows.map(async (r) => (await getJson<{ greeting: string }>(`http://127.0.0.1:${r.port}/`)).greeting));
}

async function deploy(tag: string, version?: string): Promise<void> {
  const r = await cli(server, ['deploy', '-t', tag, ...(version ? ['-v', version] : [])]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/**
 * A package as another CI would write it, by hand: manifest.json first, then the app; the
 * version is the first 9 characters of the commit its manifest names.
 */
async function handmade(name: string, greeting: string, commit: string, job = JOB): Promise<string> {
  const dir = join(base, 'pkg', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      schema: 1,
      job,
      version: commit.slice(0, 9),
      commit,
      repo: 'https://ci.example.com/shop/api.git',
      builtAt: new Date().toISOString(),
      stack: 'procfile',
      env: {},
      processes: [{ name: 'web', command: 'node server.js', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 10, startGrace: 1 }],
    }),
  );
  writeFileSync(
    join(dir, 'server.js'),
    `require('http').createServer((q, s) => s.end(JSON.stringify({ greeting: ${JSON.stringify(greeting)} })))
  .listen(Number(process.env.PORT), '127.0.0.1');\nprocess.on('SIGTERM', () => process.exit(0));\n`,
  );
  const file = join(base, 'pkg', `${name}.tar.gz`);
  await create({ gzip: true, file, cwd: dir, portable: true }, ['manifest.json', 'server.js']);
  return file;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

before(async () => {
  files = createServer((req, res) => {
    fetched.push(req.url ?? '');
    const body = served.get((req.url ?? '').slice(1));
    if (!body) return void res.writeHead(404).end('no such package');
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
  });
  // port 0: the kernel's pick, held from the start (a port picked first could be taken before listen)
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const filesPort = (files.address() as AddressInfo).port;
  filesUrl = `http://127.0.0.1:${filesPort}`;

  server = await startServer(data, await freePort());
  for (const h of HOSTS) agents[h] = startAgent(server, roots[h]!, h);
  await until(
    'hosts up',
    async () => (await cliJson<{ status: string }[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2,
    60_000,
  );
  const repo = join(base, 'repo');
  v1 = makeAppRepo(repo).commit('one').slice(0, 9);
  const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', v1]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  for (const tag of [CLUSTER, SIDE]) {
    assert.equal((await cli(server, ['cluster', 'set', '-t', tag, '--hosts', HOSTS.join(',')])).code, 0);
    await deploy(tag, v1);
  }
});

after(async () => {
  for (const a of Object.values(agents)) await a.stop();
  await server?.stop();
  await new Promise((r) => files?.close(r));
  for (const r of Object.values(roots)) killSupervised(r);
  cleanup([base]);
});

test('undeploy stops a cluster in two batches, recorded in the history, even when it stops all an agent runs', {
  timeout: 180_000,
}, async () => {
  const prod = await pids(CLUSTER);
  const side = await pids(SIDE);
  assert.equal(Object.values({ ...prod }).filter(Boolean).length, 2);
  // The agents are down while both clusters are undeployed: when they come back, u1's first
  // answer removes both instances it runs at once, beyond its share of stops (half), so it
  // applies it only because the answer names both in `stops`.
  for (const h of HOSTS) await agents[h]!.stop();
  const [sideStart] = await cliJson<DeploymentView[]>(server, ['undeploy', '-t', SIDE, '--batch', '1', '--no-wait']);
  assert.equal(sideStart!.kind, 'undeploy');
  // a short timeout: an agent that refused the answer would fail it here, not hang the test
  const following = cli(server, ['undeploy', '-t', CLUSTER, '--batch', '1', '--timeout', '90s']);
  await until(
    'the undeploy of the cluster started',
    async () => (await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]))[0]!.kind === 'undeploy',
  );
  for (const h of HOSTS) agents[h] = startAgent(server, roots[h]!, h);
  const r = await following;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^undeploy #\\d+: ${CLUSTER} stops ${v1} on 2 host\\(s\\) in 2 batch\\(es\\): u1 \\| u2\\n`));
  assert.match(r.stdout, /batch 1 of 2: u1\n.*u1 stopped .*\n.*batch 2 of 2: u2\n.*u2 stopped /s);
  assert.match(r.stdout, /undeploy #\d+ succeeded\n$/);

  const [last] = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
  assert.deepEqual(
    [last!.kind, last!.status, last!.version, last!.hostResults],
    ['undeploy', 'succeeded', v1, { u1: 'succeeded', u2: 'succeeded' }],
  );
  assert.deepEqual(last!.progress!.batches, [['u1'], ['u2']]);
  await until(
    'the side cluster undeployed too',
    async () => (await cliJson<DeploymentView[]>(server, ['history', '-t', SIDE]))[0]!.status === 'succeeded',
    60_000,
  );
  assert.deepEqual(await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]), []);
  assert.deepEqual(await cliJson<InstanceView[]>(server, ['ps', '-t', SIDE]), []);
  for (const pid of [...Object.values(prod), ...Object.values(side)]) assert.equal(alive(pid!), false, `pid ${pid} still runs`);
  for (const h of HOSTS) assert.doesNotMatch(agents[h]!.output(), /refuses/);
  const audit = await cliJson<{ action: string; target: string }[]>(server, ['audit']);
  assert.ok(audit.some((a) => a.action === 'undeploy' && a.target === CLUSTER));
  assert.ok(audit.some((a) => a.action === 'undeploy.succeeded' && a.target === CLUSTER));

  const again = await cli(server, ['undeploy', '-t', CLUSTER]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no host runs .*: there is nothing to undeploy\n.*NOOPS_E_NOTHING_RUNS/);
  const [cluster] = (await cliJson<ClusterView[]>(server, ['cluster', 'ls'])).filter((c) => c.tag === CLUSTER);
  assert.deepEqual([cluster!.hosts, cluster!.currentVersion], [['u1', 'u2'], null], 'it runs nothing');
  // the cluster keeps its hosts: a deploy starts it again
  await deploy(CLUSTER, v1);
  assert.deepEqual(await greetings(CLUSTER), ['one', 'one']);
});

test('a host taken out of a cluster: nothing changes without --yes; with it, its instance stops and the other keeps its pid', {
  timeout: 120_000,
}, async () => {
  const before = await pids(CLUSTER);
  assert.ok(before.u1 && before.u2, JSON.stringify(before));
  const ask = await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'u1']);
  assert.equal(ask.code, 1);
  assert.match(
    ask.stderr,
    new RegExp(
      `cluster set -t ${CLUSTER} would stop 1 instance\\(s\\) on hosts leaving the cluster: u2: ${CLUSTER} \\(${v1}\\); nothing was changed\\n.*NOOPS_E_UNDEPLOY_CONFIRM`,
    ),
  );
  const applied = await cli(server, ['cluster', 'apply', '-f', confFile('prod', 'host: [u1]')]);
  assert.equal(applied.code, 1, 'cluster apply asks too');
  assert.match(applied.stderr, /cluster apply would stop 1 instance\(s\) on hosts leaving the cluster: u2: /);
  const [unchanged] = (await cliJson<ClusterView[]>(server, ['cluster', 'ls'])).filter((c) => c.tag === CLUSTER);
  assert.deepEqual(unchanged!.hosts, ['u1', 'u2']);
  assert.deepEqual(await pids(CLUSTER), before);

  const go = await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'u1', '--yes']);
  assert.equal(go.code, 0, go.stderr);
  assert.match(go.stdout, new RegExp(`^${CLUSTER}: u1\\n  stops    u2: ${v1}\\n  undeploy #\\d+ stops them`));
  await until('u2 stopped the cluster', () => !alive(before.u2!), 30_000);
  await until(
    'the undeploy of u2 ended',
    async () => (await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]))[0]!.status !== 'running',
    30_000,
  );
  const [last] = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
  assert.deepEqual([last!.kind, last!.status, last!.hosts], ['undeploy', 'succeeded', ['u2']]);
  assert.deepEqual(await pids(CLUSTER), { u1: before.u1 }, 'u1 keeps running, same pid');
  assert.ok(alive(before.u1!));
});

/** A cluster.conf for JOB in cluster NAME with the given job lines. */
function confFile(name: string, ...lines: string[]): string {
  const file = join(base, `${name}.conf`);
  writeFileSync(file, `cluster:\n  name: ${name}\n  jobs: [${JOB}]\n${JOB}:\n${lines.map((l) => `  ${l}\n`).join('')}`);
  return file;
}

test('an imported package (a file, a URL) deploys and rolls back like a built one', { timeout: 180_000 }, async () => {
  const IMP = `${JOB}_cluster.imp`;
  const c1 = 'a1'.repeat(20);
  const c2 = 'b2'.repeat(20);
  const p1 = await handmade('imp1', 'imported one', c1);
  const p2 = await handmade('imp2', 'imported two', c2);
  served.set('imp2.tar.gz', readFileSync(p2));
  const [r1] = await cliJson<ReleaseView[]>(server, ['release', 'import', p1, '-t', JOB]);
  assert.deepEqual([r1!.job, r1!.version, r1!.commit, r1!.sha256, r1!.buildId], [JOB, c1.slice(0, 9), c1, sha256(p1), null]);
  const plain = await cli(server, ['release', 'import', `${filesUrl}/imp2.tar.gz`, '-t', CLUSTER]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `release ${JOB} ${c2.slice(0, 9)} (sha256 ${sha256(p2)}, ${readFileSync(p2).length} bytes)\n`);
  const again = await cliJson<ReleaseView[]>(server, ['release', 'import', p1, '-t', JOB]);
  assert.equal(again[0]!.sha256, r1!.sha256, 'importing the same package again changes nothing');

  assert.equal((await cli(server, ['cluster', 'set', '-t', IMP, '--hosts', HOSTS.join(',')])).code, 0);
  await deploy(IMP, c1.slice(0, 9));
  assert.deepEqual(await greetings(IMP), ['imported one', 'imported one']);
  await deploy(IMP, c2.slice(0, 9));
  assert.deepEqual(await greetings(IMP), ['imported two', 'imported two']);
  const back = await cli(server, ['rollback', '-t', IMP]);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.deepEqual(await greetings(IMP), ['imported one', 'imported one']);
  const audit = await cliJson<{ action: string; target: string }[]>(server, ['audit']);
  assert.equal(audit.filter((a) => a.action === 'release.import' && a.target === JOB).length, 2);
});

test("a cluster.conf's pkg_url: the first deploy imports the package from the URL, later ones use it", { timeout: 120_000 }, async () => {
  const c3 = 'c3'.repeat(20);
  served.set('ci/api-c3.tar.gz', readFileSync(await handmade('pkg3', 'from pkg_url', c3)));
  const url = `${filesUrl}/ci/api-c3.tar.gz`;
  const apply = await cli(server, ['cluster', 'apply', '-f', confFile('pkg', 'host: [u1, u2]', `pkg_url: ${url}`)]);
  assert.equal(apply.code, 0, apply.stderr);
  const PKG = `${JOB}_cluster.pkg`;
  fetched.length = 0;
  await deploy(PKG);
  assert.deepEqual(await greetings(PKG), ['from pkg_url', 'from pkg_url']);
  const [d] = await cliJson<DeploymentView[]>(server, ['history', '-t', PKG]);
  assert.equal(d!.version, c3.slice(0, 9));
  const rel = (await cliJson<ReleaseView[]>(server, ['releases', '-t', JOB])).find((r) => r.version === c3.slice(0, 9));
  assert.equal(rel!.repo, url, 'the release remembers where it came from');
  await deploy(PKG);
  assert.deepEqual(fetched, ['/ci/api-c3.tar.gz'], 'fetched once');
});

test("a bad package is refused with the spec's error, and nothing is recorded", { timeout: 60_000 }, async () => {
  const releases = async (): Promise<number> => (await cliJson<ReleaseView[]>(server, ['releases', '-t', JOB])).length;
  const n = await releases();
  const dir = join(base, 'pkg', 'bad');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'server.js'), 'x');
  writeFileSync(join(dir, 'manifest.json'), '{}');
  const bad = join(base, 'pkg', 'bad.tar.gz');
  await create({ gzip: true, file: bad, cwd: dir, portable: true }, ['server.js', 'manifest.json']);
  const r = await cli(server, ['release', 'import', bad, '-t', JOB]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the package's first entry must be the file manifest\.json, not "server\.js"\n.*NOOPS_E_PACKAGE_INVALID/);
  const other = await cli(server, [
    'release',
    'import',
    await handmade('other', 'x', 'd4'.repeat(20), 'cop.acme_owt.web_pdl.shop_service.other_job.web'),
    '-t',
    JOB,
  ]);
  assert.equal(other.code, 1);
  assert.match(
    other.stderr,
    new RegExp(
      `was built for cop\\.acme_owt\\.web_pdl\\.shop_service\\.other_job\\.web, not ${JOB.replace(/\./g, '\\.')}.*\\n.*NOOPS_E_PACKAGE_INVALID`,
    ),
  );
  const missing = await cli(server, ['release', 'import', `${filesUrl}/nothing.tar.gz`, '-t', JOB]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /cannot fetch http:\/\/127\.0\.0\.1:\d+\/nothing\.tar\.gz: the server answered HTTP 404.*\n.*NOOPS_E_PACKAGE_FETCH/,
  );
  const file = await cli(server, ['release', 'import', 'file:///etc/passwd', '-t', JOB]);
  assert.equal(file.code, 1);
  assert.equal(await releases(), n);
});
