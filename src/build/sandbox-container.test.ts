/**
 * The container kind of the build sandbox: the create options (pure), then real builds on the
 * host's Docker Engine, as root (the way the server runs on a build machine): a test step sees
 * only its source, cannot write outside it, runs as the build's uid, and its output reaches the
 * build log; a failing step fails the build; no container is left behind. Skipped when not root
 * or when no engine answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectEngine, ownedFilter } from '../engine/index.js';
import { runBuild } from './build.js';
import { SANDBOX_LIMITS } from './sandbox.js';
import { BUILD_LABEL, containerSpec, SERVER_LABEL, STEP_NETWORK, wholeLines } from './sandbox-container.js';
import { Sandbox } from './sandbox-run.js';
import { Sandbox as TestDirs } from './test-repo.js';

const root = process.getuid?.() === 0;
const engine = await connectEngine().catch(() => undefined);
const skip = !root || !engine ? 'needs root and the Docker Engine' : false;

test('a step container: the build image, the build uid, the toolchain and runtimes read-only, its folder read-write, capped, labelled', () => {
  const spec = containerSpec(
    'noops-build:0123456789ab',
    { system: ['/usr'], readable: ['/data/runtimes', '/usr/bin/node'], hide: ['/data', '/usr/local/noops'], limits: SANDBOX_LIMITS },
    {
      argv: ['/bin/sh', '-c', 'make'],
      work: '/data/builds/7/build-x',
      cwd: '/data/builds/7/build-x/src',
      env: { HOME: '/data/builds/7/build-x/home', USER: 'root', GONE: undefined },
      id: { uid: 61000, gid: 61000 },
      owner: '7',
      server: '/data',
    },
  );
  assert.equal(spec.Image, 'noops-build:0123456789ab');
  assert.deepEqual(spec.Cmd, ['/bin/sh', '-c', 'make']);
  assert.equal(spec.User, '61000:61000');
  assert.equal(spec.WorkingDir, '/data/builds/7/build-x/src');
  assert.deepEqual(spec.Env, ['HOME=/data/builds/7/build-x/home'], "no USER: the build's uid has no name");
  assert.deepEqual(spec.Labels, { 'noops.owned': '1', [BUILD_LABEL]: '7', [SERVER_LABEL]: '/data' });
  const h = spec.HostConfig!;
  assert.deepEqual(h.Mounts, [
    { Type: 'bind', Source: '/usr', Target: '/usr', ReadOnly: true },
    { Type: 'bind', Source: '/data/builds/7/build-x', Target: '/data/builds/7/build-x', ReadOnly: false },
    { Type: 'bind', Source: '/data/runtimes', Target: '/data/runtimes', ReadOnly: true },
  ]);
  assert.deepEqual(h.Tmpfs, { '/usr/local/noops': 'ro' }, 'a hidden folder inside /usr is covered');
  assert.equal(h.ReadonlyRootfs, true);
  assert.equal(h.NetworkMode, 'host', "bubblewrap's steps share the host's network: so do these");
  assert.equal(h.NetworkMode, STEP_NETWORK);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.SecurityOpt, ['no-new-privileges']);
  assert.equal(h.PidsLimit, SANDBOX_LIMITS.processes);
  assert.equal(h.Memory, SANDBOX_LIMITS.memoryBytes);
  assert.equal(h.MemorySwap, SANDBOX_LIMITS.memoryBytes);
  assert.deepEqual(
    h.Ulimits?.map((u) => [u.Name, u.Hard]),
    [
      ['nproc', SANDBOX_LIMITS.processes],
      ['data', SANDBOX_LIMITS.dataBytes],
      ['fsize', SANDBOX_LIMITS.fileBytes],
      ['core', 0],
    ],
  );
});

/** The containers of `owner` the engine still has. */
async function left(owner: string): Promise<number> {
  return (await engine!.listContainers({ all: true, filters: ownedFilter({ [BUILD_LABEL]: owner }) })).length;
}

/** What the test step prints: who it is, what it can read and write. */
const CHECK = (secret: string, outside: string) =>
  [
    'echo "uid=$(id -u)"',
    'test -e /.dockerenv && echo in-docker',
    `cat ${secret} 2>/dev/null || echo no-secret`,
    `touch ${outside} 2>/dev/null || echo no-write-outside`,
    'touch /etc/x 2>/dev/null || echo no-write-root',
    'cat out.txt',
  ].join('\n');

test('a build whose steps run in containers: only its source, its own uid, nothing written outside, output in the log', {
  skip,
}, async () => {
  const sb = await TestDirs.create();
  try {
    const secret = join(sb.root, 'secret.txt');
    writeFileSync(secret, 'SECRET-TOKEN\n');
    const outside = join(sb.root, 'escape');
    const lines: string[] = [];
    const sandbox = await Sandbox.detect({ mode: 'container', dataDir: sb.root, readable: [], log: (l) => void lines.push(l) });
    assert.equal(sandbox.kind, 'container', lines.join(''));
    await sb.repo.commit({
      'noops.yaml': 'build: echo built-inside > out.txt\ntest: sh check.sh\nprocesses:\n  web: { command: ./serve, port: 8080 }\n',
      'check.sh': CHECK(secret, outside),
    });
    const r = await runBuild({ ...sb.options(), ref: 'main', sandbox, owner: 'ctr-ok' });
    const log = sb.log.join('');
    assert.match(log, /^uid=61[01]\d\d$/m, log); // a build uid (the host's: other builds may hold the first ones)
    assert.match(log, /^in-docker$/m, 'the step ran in a container of the engine');
    assert.match(log, /^no-secret$/m);
    assert.match(log, /^no-write-outside$/m);
    assert.match(log, /^no-write-root$/m);
    assert.match(log, /^built-inside$/m, 'the build step wrote in its source, the test step read it');
    assert.doesNotMatch(log, /SECRET-TOKEN/);
    assert.equal(existsSync(outside), false);
    assert.ok((await sb.entries(r.sha256)).includes('out.txt'), 'what the step wrote is packed');
    assert.equal(await left('ctr-ok'), 0, 'no container left behind');
  } finally {
    await sb.close();
  }
});

test('wholeLines: two streams written in pieces reach one log as whole lines, the rest at the end', () => {
  const log: string[] = [];
  const out = wholeLines((t) => log.push(t));
  const err = wholeLines((t) => log.push(t));
  err.write('sh: 4: cannot create x: Read-only file system'); // dash writes the error, then its newline
  out.write('refused: database\n');
  err.write('\n');
  out.write('a\nb');
  out.write('c\nd');
  out.end();
  err.end();
  assert.deepEqual(log, ['refused: database\n', 'sh: 4: cannot create x: Read-only file system\n', 'a\n', 'bc\n', 'd']);
});

test("a step's stdout and stderr reach the log as whole lines: a line of one never runs into the other", { skip }, async () => {
  const sb = await TestDirs.create();
  try {
    const sandbox = await Sandbox.detect({ mode: 'container', dataDir: sb.root, readable: [], log: () => undefined });
    // stderr's text and its newline written apart (as dash writes an error), stdout's line between them
    await sb.repo.commit({
      'noops.yaml': 'build: sh mix.sh\nprocesses:\n  web: { command: ./serve, port: 8080 }\n',
      'mix.sh': 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do printf "err-%s" $i >&2; echo "out-$i"; printf "\\n" >&2; done\n',
    });
    await runBuild({ ...sb.options(), ref: 'main', sandbox, owner: 'ctr-lines' });
    const mixed = sb.log
      .join('')
      .split('\n')
      .filter((l) => /(err|out)-\d/.test(l));
    assert.equal(mixed.length, 24, mixed.join('\n'));
    for (const l of mixed) assert.match(l, /^(err|out)-\d+$/, `a line ran into another: ${l}`);
    assert.equal(await left('ctr-lines'), 0);
  } finally {
    await sb.close();
  }
});

test('a failing step in a container fails the build as today, and leaves no container', { skip }, async () => {
  const sb = await TestDirs.create();
  try {
    const sandbox = await Sandbox.detect({ mode: 'container', dataDir: sb.root, readable: [], log: () => undefined });
    await sb.repo.commit({ 'noops.yaml': 'test: echo about-to-fail; exit 3\nprocesses:\n  web: { command: ./serve, port: 8080 }\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main', sandbox, owner: 'ctr-fail' }), {
      code: 'NOOPS_E_TEST_FAILED',
      message: /failed with exit code 3/,
    });
    assert.match(sb.log.join(''), /^about-to-fail$/m);
    assert.equal(await left('ctr-fail'), 0, 'no container left behind');
  } finally {
    await sb.close();
  }
});

test('--build-sandbox container where no engine answers: builds are refused, saying why', async () => {
  const lines: string[] = [];
  const sandbox = await Sandbox.detect({
    mode: 'container',
    dataDir: '/nonexistent',
    readable: [],
    log: (l) => void lines.push(l),
    dockerSocket: '/nonexistent/docker.sock',
  });
  assert.equal(sandbox.kind, undefined);
  assert.throws(() => sandbox.open(), { code: 'NOOPS_E_BUILD_SANDBOX', message: /--build-sandbox container: .*does not answer/ });
  assert.match(lines.join(''), /builds and deploy tests are refused/);
});
