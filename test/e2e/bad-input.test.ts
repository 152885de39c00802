/**
 * Bad input end to end: each gets one clear message and a non-zero exit, nothing half-done is
 * left on any host, and the running release keeps running.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Header } from 'tar';
import { gzipSync } from 'node:zlib';
import type { DeploymentView, HostView, InstanceView } from '../../src/api/index.js';
import { openStore } from '../../src/store/open.js';
import { ArtifactStore } from '../../src/artifacts/index.js';
import { openSigner, signReleaseRow } from '../../src/release/signing.js';
import {
  cleanup,
  cli,
  cliJson,
  commitFiles,
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

const JOB = 'cop.acme_owt.web_pdl.shop_service.bad_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const HOSTS = ['b1', 'b2'];

const base = tmp('bad');
const data = join(base, 'server');
const roots = HOSTS.map((h) => join(base, `agent-${h}`));
const repo = join(base, 'repo');
let server: ServerProc;
const agents: Proc[] = [];
let v1 = '';

type Answer = { greeting: string; version: string };

async function greetings(): Promise<string[]> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  return Promise.all(rows.map(async (r) => (await getJson<Answer>(`http://127.0.0.1:${r.port}/`)).greeting));
}

function assertOldReleaseEverywhere(): void {
  for (const root of roots) assert.equal(readlinkSync(join(root, 'jobs', CLUSTER, 'current')), join('releases', v1));
}

before(async () => {
  server = await startServer(data, await freePort());
  HOSTS.forEach((h, i) => {
    agents.push(startAgent(server, roots[i]!, h));
  });
  await until('hosts up', async () => (await cliJson<HostView[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2);
  const app = makeAppRepo(repo);
  const c1 = app.commit('old and good');
  v1 = c1.slice(0, 9);
  assert.equal((await cli(server, ['build', '-u', repo, '-t', JOB, '-v', c1])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')])).code, 0);
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  roots.forEach(killSupervised);
  cleanup([base]);
});

test('a bad tag is refused with what is wrong', async () => {
  const r = await cli(server, ['build', '-u', repo, '-t', 'cop.Acme_owt.web', '-v', 'HEAD']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /upper-case/);
  assert.match(r.stderr, /NOOPS_E_TAG_INVALID/);
  const partial = await cli(server, ['deploy', '-t', 'cluster.nope', '-v', v1]);
  assert.equal(partial.code, 1);
  assert.match(partial.stderr, /NOOPS_E_TAG_UNKNOWN/);
});

test('a git URL or ref that begins with "-" never reaches git', async () => {
  const marker = join(base, 'pwned');
  const url = await cli(server, ['build', '-u', `--upload-pack=touch ${marker}`, '-t', JOB, '-v', 'HEAD']);
  assert.equal(url.code, 1);
  assert.match(url.stderr, /may not begin with "-"/);
  const ref = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', '--output=/tmp/x']);
  assert.equal(ref.code, 1);
  assert.match(ref.stderr, /may not begin with "-"/);
  assert.equal(existsSync(marker), false);
});

test('a repository that does not clone, an unknown commit, a failing build, a failing test: no release', async () => {
  const before = (await cliJson<unknown[]>(server, ['releases', '-t', JOB])).length;
  const missing = await cli(server, ['build', '-u', join(base, 'no-such-repo'), '-t', JOB, '-v', 'HEAD']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NOOPS_E_GIT_CLONE/);
  const unknown = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', 'deadbeef99']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /NOOPS_E_GIT_CHECKOUT/);

  const broken = join(base, 'broken');
  commitFiles(broken, { Procfile: 'web: node server.js\n', 'noops.yaml': 'build: "echo compiling; exit 3"\n' }, 'broken build');
  const failed = await cli(server, ['build', '-u', broken, '-t', JOB, '-v', 'HEAD']);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /\$ echo compiling; exit 3\ncompiling/); // the build's output is shown
  assert.match(failed.stderr, /NOOPS_E_BUILD_FAILED/);

  commitFiles(broken, { 'noops.yaml': 'test: "echo 1 test failed; exit 1"\n' }, 'failing test');
  const tested = await cli(server, ['build', '-u', broken, '-t', JOB, '-v', 'HEAD']);
  assert.equal(tested.code, 1);
  assert.match(tested.stderr, /NOOPS_E_TEST_FAILED/);
  assert.equal((await cliJson<unknown[]>(server, ['releases', '-t', JOB])).length, before);
});

test('an unknown version is refused before any host is touched', async () => {
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', 'abcdef123']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`has no release abcdef123 \\(newest: ${v1}\\)`));
  assert.equal((await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER])).length, 1);
});

test('a package whose sha256 does not match fails the deploy and the old release keeps running', async () => {
  const app = makeAppRepo(repo);
  const c2 = app.commit('tampered');
  assert.equal((await cli(server, ['build', '-u', repo, '-t', JOB, '-v', c2])).code, 0);
  const store = await openStore(`sqlite:${join(data, 'noops.db')}`);
  const release = await store.getRelease(JOB, c2.slice(0, 9));
  await store.close();
  // Someone replaces the package on the server after it was built.
  const artifacts = new ArtifactStore(join(data, 'artifacts'));
  writeFileSync(artifacts.path(release!.sha256), 'not the package that was built');
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', c2.slice(0, 9)]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /sha256/);
  assert.deepEqual(await greetings(), ['old and good', 'old and good']);
  assertOldReleaseEverywhere();
  for (const root of roots)
    assert.deepEqual(
      readdirSync(join(root, 'jobs', CLUSTER, 'releases')).filter((n) => !n.startsWith('.')),
      [v1],
    );
});

test('a package with a path that escapes its folder never lands', async () => {
  // A hostile package registered as a release, sha256 and all, signed with the server's own key
  // (as if built by it): the agent still refuses to unpack it.
  const dir = join(base, 'hostile');
  mkdirSync(join(dir, 'pkg'), { recursive: true });
  const version = 'badbadbad';
  writeFileSync(
    join(dir, 'pkg', 'manifest.json'),
    JSON.stringify({
      schema: 1,
      job: JOB,
      version,
      commit: `${version}0000000000000000000000000000000`,
      repo: 'evil',
      builtAt: new Date().toISOString(),
      stack: 'procfile',
      env: {},
      processes: [{ name: 'web', command: 'node server.js', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 10, startGrace: 1 }],
    }),
  );
  const evilTar = hostileTarball(join(dir, 'pkg', 'manifest.json'), '../../../../evil-from-package', join(dir, 'hostile.tar.gz'));
  const artifacts = new ArtifactStore(join(data, 'artifacts'));
  const { sha256, size } = await artifacts.put(evilTar);
  const store = await openStore(`sqlite:${join(data, 'noops.db')}`);
  const good = (await store.getRelease(JOB, v1))!;
  const signer = await openSigner(store, data, () => undefined);
  await store.putRelease(
    signReleaseRow(signer, {
      ...good,
      signature: null,
      version,
      commit: `${version}0000000000000000000000000000000`,
      sha256,
      size,
      createdAt: new Date().toISOString(),
      buildId: null,
    }),
  );
  await store.close();
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', version]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /outside|escape|\.\./);
  assert.deepEqual(await greetings(), ['old and good', 'old and good']);
  assertOldReleaseEverywhere();
  for (const root of roots) {
    assert.equal(existsSync(join(root, 'evil-from-package')), false);
    assert.equal(existsSync(join(root, '..', 'evil-from-package')), false);
    assert.equal(existsSync(join(root, 'jobs', CLUSTER, 'releases', version)), false);
  }
});

test('a release that cannot start fails the deploy and every host goes back to the old release', async () => {
  const crash = join(base, 'crash');
  commitFiles(crash, { Procfile: 'web: node -e "console.error(\'missing config\'); process.exit(2)"\n' }, 'crashes at start');
  const built = await cliJson<{ version: string }[]>(server, ['build', '-u', crash, '-t', JOB, '-v', 'HEAD']);
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', built[0]!.version, '--timeout', '60s']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /died \d+ times before staying up/);
  const [last] = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
  assert.equal(last!.status, 'rolled_back'); // the default policy rolls the changed hosts back
  assert.match(last!.message!, /back on its previous release/);
  await until('both hosts back on the old release', async () => (await greetings()).every((g) => g === 'old and good'), 30_000);
  assertOldReleaseEverywhere();
});

test('a second deploy to a cluster with one running is refused, naming it and who started it', async () => {
  const slow = join(base, 'slow');
  commitFiles(slow, { 'noops.yaml': 'processes:\n  web:\n    command: sleep 600\n    start_grace: 120\n' }, 'slow to start');
  const built = await cliJson<{ version: string }[]>(server, ['build', '-u', slow, '-t', JOB, '-v', 'HEAD']);
  const first = await cliJson<DeploymentView[]>(server, [
    'deploy',
    '-t',
    CLUSTER,
    '-v',
    built[0]!.version,
    '--no-wait',
    '--timeout',
    '20s',
  ]);
  const second = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`deployment #${first[0]!.id} \\(deploy of ${built[0]!.version}, started by admin`));
  assert.match(second.stderr, /NOOPS_E_DEPLOY_LOCKED/);
  const abort = await cli(server, ['deploy', 'abort', '-t', CLUSTER]);
  assert.equal(abort.code, 0, abort.stderr);
  await until(
    'the slow deploy to end',
    async () => (await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]))[0]!.status !== 'running',
    30_000,
  );
  await until('both hosts back on the old release', async () => (await greetings()).every((g) => g === 'old and good'), 30_000);
});

test('every API call needs a token; a team token acts only on its part of the tree', async () => {
  const none = await cli(server, ['hosts'], { env: { NOOPS_TOKEN: 'wrong' } });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /NOOPS_E_UNAUTHORIZED/);
  const res = await fetch(`${server.url}/api/v1/hosts`);
  assert.equal(res.status, 401);
  const [team] = await cliJson<{ token: string }[]>(server, ['token', 'create', '--name', 'other', '--scope', 'cop.acme_owt.other']);
  const denied = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1], { env: { NOOPS_TOKEN: team!.token } });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /NOOPS_E_FORBIDDEN/);
  const [own] = await cliJson<{ token: string }[]>(server, ['token', 'create', '--name', 'web', '--scope', 'cop.acme_owt.web']);
  const allowed = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1], { env: { NOOPS_TOKEN: own!.token } });
  assert.equal(allowed.code, 0, allowed.stderr);
  const agentOnly = await fetch(`${server.url}/api/v1/agent/join`, {
    method: 'POST',
    headers: { authorization: `Bearer ${team!.token}`, 'content-type': 'application/json' },
    body: '{"name":"x"}',
  });
  assert.equal(agentOnly.status, 403);
});

/** A gzip tarball written header by header, so its hostile path stays exactly as given. */
function hostileTarball(manifestFile: string, evilPath: string, out: string): string {
  const blocks: Buffer[] = [];
  for (const [path, body] of [
    ['manifest.json', readFileSync(manifestFile)],
    [evilPath, Buffer.from('escaped')],
  ] as const) {
    const block = Buffer.alloc(512);
    new Header({ path, type: 'File', size: body.length, mtime: new Date(), mode: 0o644, uid: 0, gid: 0 }).encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  writeFileSync(out, gzipSync(Buffer.concat(blocks)));
  return out;
}
