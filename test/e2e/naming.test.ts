/**
 * Naming end to end: a real server with its DNS on a free loopback port and a real agent. A
 * deployed job is found by HTTP (`noops resolve`, a blocking query) and by DNS (A and SRV, asked
 * with Node's resolver), answers at the address and port naming gives, and is gone from both after
 * an undeploy; the blocking query returns at that change. Its `depends_on:` and the DNS lookups
 * show in `noops deps`, and its deploy names who depends on it.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { ApiClient, resolveNames, type DepsView, type NamingAnswer } from '../../src/api/index.js';
import { dnsNameOf } from '../../src/naming/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  getJson,
  killSupervised,
  makeAppRepo,
  NOOPS,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.hello_job.web';
const CLUSTER = `${JOB}_cluster.dev`;
const PAY = 'cop=acme,service=pay';

const base = tmp('naming');
const root = join(base, 'agent-n1');
let server: ServerProc;
let agent: Proc;
let dnsPort = 0;
let version = '';
let resolver: Resolver;
let watch: ReturnType<typeof spawn> | undefined;

async function resolveJson(selector: string): Promise<NamingAnswer> {
  const r = await cli(server, ['resolve', selector, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as NamingAnswer;
}

before(async () => {
  dnsPort = await freePort();
  server = await startServer(join(base, 'server'), await freePort(), ['--dns', `127.0.0.1:${dnsPort}`]);
  assert.match(server.output(), new RegExp(`DNS: +127\\.0\\.0\\.1:${dnsPort}`));
  agent = startAgent(server, root, 'n1');
  await until('n1 up', async () => (await cliJson<{ status: string }[]>(server, ['hosts'])).some((h) => h.status === 'up'), 60_000);
  const repo = join(base, 'repo');
  version = makeAppRepo(repo)
    .commit('hello', { 'noops.yaml': `depends_on:\n  - ${PAY}\n` })
    .slice(0, 9);
  const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', version]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'n1'])).code, 0);
  resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
});

after(async () => {
  watch?.kill('SIGKILL');
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

test('a deployed job is resolved by HTTP and DNS, and is gone from both after an undeploy', { timeout: 180_000 }, async () => {
  const deploy = await cli(server, ['deploy', '-t', CLUSTER, '-v', version]);
  assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);

  // HTTP: the one healthy instance, at an address and port that answer
  const answer = await until('the instance healthy in naming', async () => {
    const a = await resolveJson(JOB);
    return a.endpoints.length === 1 && a;
  });
  const [e] = answer.endpoints;
  assert.deepEqual([e!.host, e!.address, e!.process, e!.tag, e!.version], ['n1', '127.0.0.1', 'web', CLUSTER, version]);
  assert.equal((await getJson<{ greeting: string }>(`http://${e!.address}:${e!.port}/`)).greeting, 'hello');

  // DNS: A for the cluster and for a node above it, SRV for the web process
  const name = dnsNameOf(CLUSTER);
  assert.equal(name, 'dev.cluster.web.job.hello.service.shop.pdl.web.owt.acme.cop.noops.');
  assert.deepEqual(await resolver.resolve4(name), ['127.0.0.1']);
  assert.deepEqual(await resolver.resolve4('shop.pdl.acme.cop.noops'), ['127.0.0.1']);
  const srv = await resolver.resolveSrv(`_web._tcp.${name}`);
  assert.deepEqual(
    srv.map((r) => [r.name, r.port]),
    [['n1.host.noops', e!.port]],
  );
  await assert.rejects(resolver.resolve4('nope.service.acme.cop.noops'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolve4('example.com'), { code: 'EREFUSED' });

  // who depends on whom: declared by noops.yaml, observed in the DNS lookups just made from n1 (its agent's address)
  const deps = await cliJson<DepsView>(server, ['deps', '-t', JOB]);
  const declared = deps.uses.find((d) => d.to === PAY);
  assert.deepEqual(declared && [declared.from, declared.declared], [JOB, true]);
  const observed = deps.uses.find((d) => d.observed);
  assert.equal(observed?.from, JOB, JSON.stringify(deps));
  const pay = await cliJson<DepsView>(server, ['deps', '-t', PAY]);
  assert.deepEqual(
    pay.usedBy.map((d) => [d.from, d.declared]),
    [[JOB, true]],
  );

  // a blocking query parked on this answer returns when the undeploy takes the instance away
  const api = new ApiClient(server.url, server.adminToken);
  const waiting = resolveNames(api, JOB, { index: answer.index, waitMs: 120_000 });
  // and `noops resolve --watch --json` prints the new answer: one JSON answer per line
  watch = spawn(process.execPath, [NOOPS, 'resolve', JOB, '--watch', '--json'], {
    env: { ...process.env, NOOPS_SERVER: server.url, NOOPS_TOKEN: server.adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let watched = '';
  watch.stdout!.on('data', (b: Buffer) => {
    watched += b.toString();
  });
  await until('the watch printed the first answer', () => watched.includes('\n'));
  const undeploy = await cli(server, ['undeploy', '-t', CLUSTER]);
  assert.equal(undeploy.code, 0, undeploy.stdout + undeploy.stderr);
  const next = await waiting;
  await until('the watch printed the change', () => watched.trim().split('\n').length >= 2, 30_000);
  const lines = watched
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as NamingAnswer);
  assert.deepEqual(
    lines.map((l) => [l.index, l.endpoints.length]),
    [
      [answer.index, 1],
      [next.index, 0],
    ],
  );
  watch.kill('SIGINT');
  assert.deepEqual(next.endpoints, []);
  assert.notEqual(next.index, answer.index);
  assert.deepEqual((await resolveJson(JOB)).endpoints, []);
  await assert.rejects(resolver.resolve4(name), { code: 'ENODATA' }, 'the node is known, nothing healthy under it');
});
