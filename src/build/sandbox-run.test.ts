/**
 * The sandbox for real, as root (the way the server runs on a build machine): bubblewrap with
 * the build's own uid, and the uid alone when bubblewrap is not there. Skipped when not root.
 */
import { test, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_UID_BASE, BUILD_UID_COUNT, Sandbox, type SandboxSession } from './sandbox-run.js';
import { UID_LEASE_DIR } from './uid-lease.js';
import { DEFAULT_TOOLS } from './sandbox.js';
import { runBuild } from './build.js';
import { Sandbox as TestDirs } from './test-repo.js';

const root = process.getuid?.() === 0;
/** These tests are about the process kinds: `auto` takes them where no Docker Engine is (sandbox-container-attacks.test.ts has the container kind). */
const NO_ENGINE = '/nonexistent/docker.sock';
const base = mkdtempSync(join(tmpdir(), 'noops-sandbox-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** A data folder with a token and a database, and two builds' folders in it. */
function dataDir(name: string): { data: string; work: (n: number) => string } {
  const data = join(base, name);
  mkdirSync(join(data, 'runtimes', 'node-1'), { recursive: true, mode: 0o755 });
  writeFileSync(join(data, 'admin.token'), 'SECRET-TOKEN', { mode: 0o600 });
  writeFileSync(join(data, 'noops.db'), 'db', { mode: 0o644 }); // 0644 on purpose: only the sandbox keeps it out of reach
  writeFileSync(join(data, 'runtimes', 'node-1', 'bin'), 'runtime\n');
  return { data, work: (n) => join(data, 'builds', String(n)) };
}

async function sh(box: SandboxSession, work: string, script: string): Promise<{ code: number | null; out: string }> {
  let out = '';
  const r = await box.run(['/bin/sh', '-c', script], work, {
    cwd: work,
    env: { PATH: '/usr/bin:/bin' },
    deadline: Date.now() + 10_000,
    onOutput: (t) => {
      out += t;
    },
  });
  return { code: r.code, out };
}

const ATTACK = [
  'id -u',
  'cat $DATA/admin.token || echo no-token',
  'echo x >> $DATA/noops.db || echo no-db',
  'ls $OTHER || echo no-other',
  'cat $DATA/runtimes/node-1/bin',
].join('; ');

test('bwrap as root: own uid, data folder hidden but the runtimes, other builds hidden, own PID namespace', { skip: !root }, async () => {
  const { data, work } = dataDir('bwrap');
  const lines: string[] = [];
  const sandbox = await Sandbox.detect({
    mode: 'auto',
    dockerSocket: NO_ENGINE,
    dataDir: data,
    readable: [join(data, 'runtimes')],
    log: (l) => void lines.push(l),
  });
  assert.equal(sandbox.kind, 'bwrap');
  assert.deepEqual(lines, []);
  const a = sandbox.open();
  const b = sandbox.open();
  // uids are the host's: other builds (other test files, other servers) may hold the first ones
  const [uidA, uidB] = [a.id!.uid, b.id!.uid];
  assert.ok(uidA >= BUILD_UID_BASE && uidB >= BUILD_UID_BASE && uidA !== uidB, `${uidA} and ${uidB}`);
  for (const n of [1, 2]) mkdirSync(work(n), { recursive: true });
  await a.own(work(1));
  await b.own(work(2));
  const r = await sh(a, work(1), `DATA=${data} OTHER=${work(2)}; ${ATTACK}; ps -e -o pid= | wc -l; touch $DATA/../escape || echo no-write`);
  assert.equal(r.code, 0);
  assert.deepEqual(
    r.out.split('\n').filter((l) => !l.includes(': ')),
    [String(uidA), 'no-token', 'no-db', 'no-other', 'runtime', '4', 'no-write', ''],
  );
  assert.equal(readFileSync(join(data, 'noops.db'), 'utf8'), 'db');
  assert.equal(statSync(work(1)).uid, uidA);
  await a.close();
  await b.close();
  assert.equal(
    existsSync(join(UID_LEASE_DIR, String(uidA))) && readFileSync(join(UID_LEASE_DIR, String(uidA)), 'utf8').startsWith(`${process.pid} `),
    false,
    'a closed session frees its uid',
  );
});

test('uid alone (no bubblewrap): own uid, limits, the data folder unreadable by mode; a daemon it left is killed on close', {
  skip: !root,
}, async () => {
  const { data } = dataDir('uid');
  const lines: string[] = [];
  const sandbox = await Sandbox.detect({
    mode: 'auto',
    dockerSocket: NO_ENGINE,
    dataDir: data,
    readable: [],
    log: (l) => void lines.push(l),
    tools: { ...DEFAULT_TOOLS, bwrap: '/nonexistent/bwrap' },
  });
  try {
    assert.equal(sandbox.kind, 'uid');
    assert.match(lines.join(''), /bubblewrap does not work here \(\/nonexistent\/bwrap is missing\)/);
    assert.ok(!sandbox.workRoot('builds').startsWith(data), "the builds' folders are outside the data folder");
    const box = sandbox.open();
    const other = sandbox.open();
    const work = (n: number): string => join(sandbox.workRoot('builds'), String(n));
    for (const n of [1, 2]) mkdirSync(work(n), { recursive: true });
    await box.own(work(1));
    await other.own(work(2));
    const r = await sh(
      box,
      work(1),
      `DATA=${data} OTHER=${work(2)}; ${ATTACK.replace(/; cat \$DATA\/runtimes.*$/, '')}; ulimit -p; echo left > /tmp/noops-left-by-build; setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & while [ ! -s daemon.pid ]; do sleep 0.05; done; echo started`,
    );
    assert.deepEqual(
      r.out.split('\n').filter((l) => !l.includes(': ')),
      [String(box.id!.uid), 'no-token', 'no-db', 'no-other', '1024', 'started', ''],
    );
    await box.close();
    await other.close();
    // (a killed daemon may stay a zombie until init reaps it: dead all the same)
    const aliveNow = (): string[] =>
      spawnSync('ps', ['-u', String(box.id!.uid), '-o', 'stat='], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((s) => s !== '' && !s.startsWith('Z'));
    let alive = aliveNow();
    // SIGKILL is delivered at once, but a loaded machine may take a while to run the exits
    for (const deadline = Date.now() + 10_000; alive.length > 0 && Date.now() < deadline; alive = aliveNow())
      await new Promise((done) => setTimeout(done, 50));
    assert.deepEqual(alive, [], 'nothing of the build runs');
    assert.equal(existsSync('/tmp/noops-left-by-build'), false, 'nothing of the build stays in /tmp for the next build with its uid');
  } finally {
    await sandbox.close();
  }
  assert.throws(() => statSync(sandbox.workRoot('builds')), { code: 'ENOENT' });
});

test('none: refused nothing, runs as the server; a server that cannot sandbox refuses with NOOPS_E_BUILD_SANDBOX', async () => {
  const lines: string[] = [];
  const none = await Sandbox.detect({ mode: 'none', dataDir: base, readable: [], log: (l) => void lines.push(l) });
  assert.equal(none.kind, 'none');
  assert.match(lines[0]!, /--build-sandbox none: builds and deploy tests run as the server's own user/);
  const broken = await Sandbox.detect({
    mode: 'auto',
    dockerSocket: NO_ENGINE,
    dataDir: base,
    readable: [],
    log: () => undefined,
    tools: { prlimit: '/nonexistent/prlimit', bwrap: '/nonexistent/bwrap', setpriv: '/nonexistent/setpriv' },
  });
  assert.equal(broken.kind, undefined);
  assert.throws(() => broken.open(), { code: 'NOOPS_E_BUILD_SANDBOX', message: /^builds cannot run sandboxed on this server: / });
});

test('uid alone: a whole build runs as its own uid in a folder outside the data folder, and packs', { skip: !root }, async () => {
  const { data } = dataDir('uid-build');
  const sandbox = await Sandbox.detect({
    mode: 'auto',
    dockerSocket: NO_ENGINE,
    dataDir: data,
    readable: [],
    log: () => undefined,
    tools: { ...DEFAULT_TOOLS, bwrap: '/nonexistent/bwrap' },
  });
  const dirs = await TestDirs.create();
  try {
    await dirs.repo.commit({
      Procfile: 'web: node server.js\n',
      'server.js': '',
      'build.sh': `id -u > built-by; cat ${data}/admin.token || echo no-token\n`,
    });
    const r = await runBuild({ ...dirs.options(), ref: 'main', workDir: sandbox.workRoot('builds'), sandbox });
    const log = dirs.log.join('');
    assert.match(log, /^no-token$/m);
    assert.ok(!log.includes('SECRET-TOKEN'));
    const unpacked = await dirs.unpack(r.sha256);
    const uid = Number(readFileSync(join(unpacked, 'built-by'), 'utf8'));
    assert.ok(uid >= BUILD_UID_BASE && uid < BUILD_UID_BASE + BUILD_UID_COUNT, `built by ${uid}`);
  } finally {
    await dirs.close();
    await sandbox.close();
  }
});
