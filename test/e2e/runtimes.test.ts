/**
 * Runtimes end to end, with two real Node.js runtimes from the npm registry: a server, one
 * agent, two jobs on that host each running (and reporting over HTTP) its own Node.js version;
 * a third job asking for a runtime the server does not have, and a fourth one whose runtime is
 * for another platform, are refused before any host changes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentView, InstanceView, RuntimeView } from '../../src/api/index.js';
import { elfHeader, makeTarball, NODE_18, NODE_22, nodeRuntimeTarball } from '../../src/runtimes/test-runtimes.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  getJson,
  git,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const BASE_TAG = 'cop.acme_owt.web_pdl.shop_service.rt';
const base = tmp('runtimes');
const data = join(base, 'server');
const root = join(base, 'agent-h1');
let server: ServerProc;
let agent: Proc;

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

/** A repository whose web process answers with its Node.js version and what it sees of runtimes. */
function appRepo(name: string, yaml: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(join(dir, 'noops.yaml'), yaml);
  writeFileSync(join(dir, 'Procfile'), 'web: node server.js\n');
  writeFileSync(
    join(dir, 'server.js'),
    `
const http = require('http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ node: process.version, path: process.env.PATH, nodeHome: process.env.NODE_HOME || null }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`,
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', name);
  return git(dir, 'rev-parse', 'HEAD').slice(0, 9);
}

async function buildAndSet(name: string, yaml: string): Promise<{ job: string; cluster: string; version: string; out: string }> {
  const version = appRepo(name, yaml);
  const job = `${BASE_TAG}_job.${name}`;
  const b = await cli(server, ['build', '-u', join(base, name), '-t', job, '-v', version]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const cluster = `${job}_cluster.dev`;
  const set = await cli(server, ['cluster', 'set', '-t', cluster, '--hosts', 'h1']);
  assert.equal(set.code, 0, set.stderr);
  return { job, cluster, version, out: b.stdout };
}

type Answer = { node: string; path: string; nodeHome: string | null };

test('two jobs on one host, each with its own Node.js; unknown and unfit runtimes are refused up front', async (t) => {
  const tarballs: Record<string, string> = { [NODE_18]: nodeRuntimeTarball(NODE_18), [NODE_22]: nodeRuntimeTarball(NODE_22) };
  server = await startServer(data, await freePort());
  agent = startAgent(server, root, 'h1');
  await until('h1 up', async () =>
    (await cliJson<{ name: string; status: string }[]>(server, ['hosts'])).some((h) => h.name === 'h1' && h.status === 'up'),
  );

  await t.test('noops runtime add: two versions of node from npm pack tarballs', async () => {
    for (const version of [NODE_18, NODE_22]) {
      const r = await cli(server, ['runtime', 'add', 'node', version, tarballs[version]!]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`^runtime node ${version.replace(/\./g, '\\.')}: linux/x64, \\d+ bytes, sha256 [0-9a-f]{64}$`, 'm'),
      );
    }
    const again = await cli(server, ['runtime', 'add', 'node', NODE_18, tarballs[NODE_18]!]);
    assert.equal(again.code, 0, 'adding the same tarball again is a no-op');
    const other = await cli(server, ['runtime', 'add', 'node', NODE_18, tarballs[NODE_22]!]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /NOOPS_E_RUNTIME_EXISTS/);
    const noBin = await makeTarball(base, { 'README.md': 'no programs here' }, 'pkg');
    const bad = await cli(server, ['runtime', 'add', 'empty', '1', noBin]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /a runtime has bin\/ at its top, or under its one top folder .* this tarball has only pkg\/ without bin\/ in it/,
    );
    assert.match(bad.stderr, /NOOPS_E_PACKAGE_INVALID/);
    const badName = await cli(server, ['runtime', 'add', '../x', '1', noBin]);
    assert.match(badName.stderr, /"\.\.\/x" is not a runtime name/);
    const ls = await cliJson<RuntimeView[]>(server, ['runtime', 'ls']);
    assert.deepEqual(
      ls.map((r) => [r.name, r.version, r.platform, r.root, r.exports]),
      [NODE_18, NODE_22].map((v) => ['node', v, 'linux/x64', 'package', { path: ['bin'], env: { NODE_HOME: '{dir}' } }]),
    );
  });

  const jobs: Record<string, Awaited<ReturnType<typeof buildAndSet>>> = {};
  await t.test('two jobs on one host, node 18 and node 22: each process sees only its own', async () => {
    jobs.n18 = await buildAndSet('n18', 'runtimes:\n  node: "18"\n');
    jobs.n22 = await buildAndSet('n22', `runtimes:\n  node: "${NODE_22}"\n`);
    for (const j of Object.values(jobs)) {
      const r = await cli(server, ['deploy', '-t', j.cluster, '-v', j.version]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    for (const [key, version] of [
      ['n18', NODE_18],
      ['n22', NODE_22],
    ] as const) {
      const [row] = await cliJson<InstanceView[]>(server, ['ps', '-t', jobs[key]!.cluster]);
      const answer = await getJson<Answer>(`http://127.0.0.1:${row!.port}/`);
      const dir = join(root, 'runtimes', 'node', version);
      assert.equal(answer.node, `v${version}`);
      assert.equal(answer.nodeHome, dir);
      assert.ok(answer.path.startsWith(`${join(dir, 'bin')}:`), answer.path);
      const otherVersion = version === NODE_18 ? NODE_22 : NODE_18;
      assert.ok(!answer.path.includes(join(root, 'runtimes', 'node', otherVersion)), "the other job's runtime is not on its PATH");
    }
    assert.deepEqual(readdirSync(join(root, 'runtimes', 'node')).sort(), [NODE_18, NODE_22]);
    assert.equal(statSync(join(root, 'runtimes', 'node', NODE_18, 'bin', 'node')).mode & 0o222, 0, 'installed read-only');
    await until('runtime ls to show both installed on h1', async () =>
      (await cliJson<RuntimeView[]>(server, ['runtime', 'ls'])).every((r) => r.hosts.join() === 'h1'),
    );
  });

  await t.test('a release whose runtime the server does not have is refused before any host changes', async () => {
    const j = await buildAndSet('n99', 'runtimes:\n  node: "99.0.0"\n');
    assert.match(j.out, /warning: the runtime node 99\.0\.0 is not known \(this server has node 18\.20\.4, 22\.23\.3\)/);
    const before = JSON.parse(readFileSync(join(root, 'state.json'), 'utf8')) as { generation: number };
    const r = await cli(server, ['deploy', '-t', j.cluster, '-v', j.version]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `release ${j.job} ${j.version} needs runtimes this server does not have: node 99\\.0\\.0 \\(known: node ${NODE_18.replace(/\./g, '\\.')}, ${NODE_22.replace(/\./g, '\\.')}\\); nothing was deployed and no host was changed`,
      ),
    );
    assert.match(r.stderr, /NOOPS_E_RUNTIME_UNKNOWN/);
    assert.deepEqual(await cliJson<DeploymentView[]>(server, ['history', '-t', j.cluster]), []);
    await new Promise((res) => setTimeout(res, 1000)); // a desired-state change would reach the agent within this
    const afterState = JSON.parse(readFileSync(join(root, 'state.json'), 'utf8')) as { generation: number };
    assert.equal(afterState.generation, before.generation, "the host's desired state did not change");
    assert.equal(existsSync(join(root, 'jobs', `${j.job}_cluster.dev`)), false);
  });

  await t.test("a runtime for another platform than the host's is refused, naming the host", async () => {
    const foreign = process.arch === 'arm64' ? { machine: 0x3e, arch: 'x64' } : { machine: 0xb7, arch: 'arm64' };
    const file = await makeTarball(base, { 'bin/tool': { text: elfHeader(foreign.machine), mode: 0o755 } }, 'tool-1.0');
    const add = await cli(server, ['runtime', 'add', 'tool', '1.0', file]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, new RegExp(`runtime tool 1\\.0: linux/${foreign.arch},`));
    const j = await buildAndSet('foreign', 'runtimes: { tool: "1.0" }\n');
    const r = await cli(server, ['deploy', '-t', j.cluster, '-v', j.version]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `cannot be installed on every host of ${j.cluster}: tool 1\\.0 on h1: it is for linux/${foreign.arch} and the host is linux/${process.arch}; nothing was deployed`,
      ),
    );
    assert.match(r.stderr, /NOOPS_E_RUNTIME_UNAVAILABLE/);
  });

  await t.test('the two jobs kept running, untouched; noops package inspect shows a stored package', async () => {
    for (const [key, version] of [
      ['n18', NODE_18],
      ['n22', NODE_22],
    ] as const) {
      const [row] = await cliJson<InstanceView[]>(server, ['ps', '-t', jobs[key]!.cluster]);
      assert.equal(row!.state, 'up');
      assert.equal((await getJson<Answer>(`http://127.0.0.1:${row!.port}/`)).node, `v${version}`);
    }
    const [release] = await cliJson<{ sha256: string }[]>(server, ['releases', '-t', jobs.n18!.job]);
    const file = join(data, 'artifacts', release!.sha256.slice(0, 2), release!.sha256);
    const r = await cli(server, ['package', 'inspect', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: a valid release package \(spec 1\)/);
    assert.match(r.stdout, new RegExp(`runtimes  node ${NODE_18.replace(/\./g, '\\.')}`));
    const bad = await cli(server, ['package', 'inspect', tarballs[NODE_18]!]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the package's first entry must be the file manifest\.json, not "package\/.*"/);
  });
});
