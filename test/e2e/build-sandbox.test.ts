/**
 * Builds and deploy tests in the sandbox, end to end, with a real server (root, as on a build
 * machine) and a real agent: a repository whose build script and deploy test try what a hostile
 * team would (read the admin token, write the database, read another build's files, see the
 * server's processes, make the server write or pack through a symlink) and fail at each, while
 * the release is still built and deployed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/index.js';
import type { BuildView } from '../../src/api/index.js';
import { NODE_18, nodeRuntimeTarball } from '../../src/runtimes/test-runtimes.js';
import {
  cleanup,
  cli,
  commitFiles,
  freePort,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.sandbox_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const root = process.getuid?.() === 0;

const base = tmp('build-sandbox');
const data = join(base, 'server');
const agentRoot = join(base, 'agent-h1');
let server: ServerProc;
let agent: Proc | undefined;
let api: ApiClient;

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(agentRoot);
  cleanup([base]);
});

/** Tries each attack; prints `refused: WHAT` or `BROKEN: WHAT`, and always exits 0. */
function attackScript(serverPid: number): string {
  return `D=${JSON.stringify(data)}
echo "uid=$(id -u)"
if cat "$D/admin.token"; then echo "BROKEN: read the admin token"; else echo "refused: token"; fi
if echo PWNED-MARKER >> "$D/noops.db"; then echo "BROKEN: wrote the database"; else echo "refused: database"; fi
if ln "$D/admin.token" hard 2>/dev/null; then echo "BROKEN: hard link to the token"; else echo "refused: hard link"; fi
if cat $D/builds/*/build-*/src/marker 2>/dev/null | grep -q A-SECRET; then echo "BROKEN: read another build"; else echo "refused: another build"; fi
if ls $D/builds/*/build-*/ >/dev/null 2>&1 && [ "$(ls -d $D/builds/*/build-* | wc -l)" -gt 1 ]; then echo "BROKEN: lists other builds"; else echo "refused: list builds"; fi
if [ -e /proc/${serverPid} ] && grep -q noops /proc/${serverPid}/cmdline; then echo "BROKEN: sees the server"; else echo "refused: server process"; fi
if ps -eo args | grep -q "[b]in/noops"; then echo "BROKEN: ps shows the server"; else echo "refused: ps"; fi
if touch /usr/noops-was-here 2>/dev/null; then echo "BROKEN: wrote /usr"; else echo "refused: system folders"; fi
exit 0
`;
}

const REFUSED = ['token', 'database', 'hard link', 'another build', 'list builds', 'server process', 'ps', 'system folders'].map(
  (w) => `refused: ${w}`,
);

async function build(repo: string, job = JOB): Promise<BuildView & { log: string }> {
  const b = await api.startBuild({ repo, tag: job, ref: 'main' });
  return finished(b.id);
}

async function finished(id: number): Promise<BuildView & { log: string }> {
  const done = await until(
    `build #${id}`,
    async () => {
      const p = await api.build(id);
      return p.build.status !== 'running' && p;
    },
    120_000,
    200,
  );
  return { ...done.build, log: done.log };
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => /^(uid=|refused: |BROKEN: )/.test(l));
}

test('builds and deploy tests cannot touch the server', { skip: !root && 'the uid sandbox needs root' }, async (t) => {
  server = await startServer(data, await freePort());
  api = new ApiClient(server.url, server.adminToken);
  const token = server.adminToken;
  writeFileSync(join(data, 'victim.txt'), 'untouched\n');
  const attack = attackScript(server.child.pid!);

  await t.test('a build script fails at every attack, and the release is still built', async () => {
    // build A keeps its folder (with a secret) while build B looks for it
    commitFiles(
      join(base, 'repo-a'),
      {
        Procfile: 'web: node server.js\n',
        'server.js': '',
        'build.sh': 'echo A-SECRET > marker; echo "A: marker written"; sleep 8\n',
      },
      'a',
    );
    const a = await api.startBuild({ repo: join(base, 'repo-a'), tag: `${JOB}x`, ref: 'main' });
    await until('build A to write its marker', async () => (await api.build(a.id)).log.includes('A: marker written'), 60_000, 100);
    const repo = join(base, 'repo-b');
    commitFiles(
      repo,
      {
        Procfile: 'web: node server.js\n',
        'server.js': 'require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");\n',
        'attack.sh': attack,
        'build.sh': 'sh ./attack.sh\n',
        'noops.yaml': 'deploy_tests: sh attack.sh\n',
      },
      'b',
    );
    const b = await build(repo);
    assert.equal(b.status, 'succeeded', b.log);
    const got = lines(b.log);
    assert.match(got[0]!, /^uid=61\d\d\d$/, "the build ran as its own uid, not the server's (0)");
    assert.deepEqual(got.slice(1), REFUSED, b.log);
    assert.ok(!b.log.includes(token), 'the token never appears in the log');
    assert.equal((await finished(a.id)).status, 'succeeded');
    for (const f of ['noops.db', 'noops.db-wal']) {
      if (existsSync(join(data, f))) assert.ok(!readFileSync(join(data, f)).includes('PWNED-MARKER'), `${f} unchanged`);
    }
  });

  await t.test('a deploy test fails at every attack too', async () => {
    agent = startAgent(server, agentRoot, 'h1');
    await until('h1 up', async () => (await api.hosts()).some((h) => h.name === 'h1' && h.status === 'up'), 30_000);
    assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1'])).code, 0);
    const version = (await api.releases(JOB))[0]!.version;
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', version]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const d = (await api.history(CLUSTER, 1))[0]!;
    const output = d.progress!.tests.map((x) => x.commands.map((c) => c.output).join('')).join('');
    const got = lines(output);
    assert.match(got[0]!, /^uid=61\d\d\d$/, output);
    assert.deepEqual(got.slice(1), REFUSED, output);
    assert.ok(!output.includes(token));
  });

  await t.test('a symlink to the token in the output is refused, not packed', async () => {
    for (const target of [join(data, 'admin.token'), '../../../admin.token']) {
      const repo = join(base, `repo-link-${target.startsWith('/') ? 'abs' : 'rel'}`);
      commitFiles(
        repo,
        { Procfile: 'web: node server.js\n', 'server.js': '', 'build.sh': `ln -s ${JSON.stringify(target)} leak.txt\n` },
        'link',
      );
      const b = await build(repo);
      assert.equal(b.status, 'failed');
      assert.equal(b.error?.code, 'NOOPS_E_PACKAGE_UNSAFE', b.log);
      assert.ok(!b.log.includes(token));
    }
  });

  await t.test('the server never writes its static server through a symlink the build made', async () => {
    const dir = join(base, 'repo-static-dir');
    commitFiles(dir, { 'index.html': '<h1>hi</h1>\n', 'build.sh': `ln -s ${JSON.stringify(data)} .noops\n` }, 'dir');
    const b1 = await build(dir, `${JOB}s`);
    assert.equal(b1.error?.code, 'NOOPS_E_PACKAGE_UNSAFE', b1.log);
    assert.equal(existsSync(join(data, 'static-server.mjs')), false, 'nothing written into the data folder');

    const file = join(base, 'repo-static-file');
    commitFiles(
      file,
      {
        'index.html': '<h1>hi</h1>\n',
        'build.sh': `mkdir .noops && ln -s ${JSON.stringify(join(data, 'victim.txt'))} .noops/static-server.mjs\n`,
      },
      'file',
    );
    const b2 = await build(file, `${JOB}s`);
    assert.equal(b2.status, 'succeeded', b2.log);
    assert.equal(readFileSync(join(data, 'victim.txt'), 'utf8'), 'untouched\n');
    const sha = (await api.releases(`${JOB}s`))[0]!.sha256;
    const listing = execFileSync('tar', ['-tvzf', join(data, 'artifacts', sha.slice(0, 2), sha)], { encoding: 'utf8' });
    assert.match(listing, /^-.* \.noops\/static-server\.mjs$/m, 'a plain file, the real static server');
  });

  await t.test("the build runtimes stay readable by the build's uid; HOME and TMPDIR are the build's own", async () => {
    const add = await cli(server, ['runtime', 'add', 'node', NODE_18, nodeRuntimeTarball(NODE_18)]);
    assert.equal(add.code, 0, add.stderr);
    const repo = join(base, 'repo-runtime');
    commitFiles(
      repo,
      {
        Procfile: 'web: node server.js\n',
        'server.js': '',
        'noops.yaml': `runtimes: { node: "${NODE_18}" }\nbuild:\n  - node -e "console.log('built with', process.version, process.getuid() > 0)"\n  - echo "home=$HOME tmp=$TMPDIR"\n`,
      },
      'runtime',
    );
    const b = await build(repo, `${JOB}r`);
    assert.equal(b.status, 'succeeded', b.log);
    assert.match(b.log, new RegExp(`^built with v${NODE_18.replace(/\./g, '\\.')} true$`, 'm'));
    assert.match(b.log, /^home=\S+\/build-\w+\/home tmp=\S+\/build-\w+\/tmp$/m);
  });
});
