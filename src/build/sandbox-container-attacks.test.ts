/**
 * The container kind against each attack the sandbox defends against, on the real engine, as
 * root (the way the server runs on a build machine): `auto` picks it where the engine answers; a
 * build step with the host's toolchain (node, npm, the shell's tools) tries to read the server's
 * data folder, write outside its source, reach the Docker socket, and become root, and fails at
 * each, while the build succeeds. Skipped when not root or when no engine answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectEngine, ownedFilter } from '../engine/index.js';
import { runBuild } from './build.js';
import { SANDBOX_LIMITS } from './sandbox.js';
import { BUILD_LABEL } from './sandbox-container.js';
import { BUILD_UID_BASE, BUILD_UID_COUNT, Sandbox } from './sandbox-run.js';
import { Sandbox as TestDirs } from './test-repo.js';

const root = process.getuid?.() === 0;
const engine = await connectEngine().catch(() => undefined);
const skip = !root || !engine ? 'needs root and the Docker Engine' : false;

test('--build-sandbox auto picks the container kind where the engine answers, else bubblewrap', { skip }, async () => {
  const sb = await TestDirs.create();
  try {
    const lines: string[] = [];
    const auto = await Sandbox.detect({ mode: 'auto', dataDir: sb.root, readable: [], log: (l) => void lines.push(l) });
    assert.equal(auto.kind, 'container', lines.join(''));
    assert.match(lines.join(''), /throwaway containers of noops-build:[0-9a-f]{12} .*--build-sandbox auto/);
    const quiet: string[] = [];
    const noEngine = await Sandbox.detect({
      mode: 'auto',
      dataDir: sb.root,
      readable: [],
      log: (l) => void quiet.push(l),
      dockerSocket: join(sb.root, 'no-docker.sock'),
    });
    assert.equal(noEngine.kind, 'bwrap', 'no engine: bubblewrap, as before');
    assert.deepEqual(quiet, [], 'a host without an engine is not warned');
    const dead = join(sb.root, 'dead-docker.sock');
    writeFileSync(dead, ''); // there, but no engine answers
    const said: string[] = [];
    const fallback = await Sandbox.detect({
      mode: 'auto',
      dataDir: sb.root,
      readable: [],
      log: (l) => void said.push(l),
      dockerSocket: dead,
    });
    assert.equal(fallback.kind, 'bwrap');
    assert.match(said.join(''), /builds do not run in containers here \(.*does not answer.*\): trying bubblewrap/);
  } finally {
    await sb.close();
  }
});

/** Each attack prints `refused: WHAT` or `BROKEN: WHAT`; the tools print what they are. */
const ATTACKS = (data: string) => `D=${JSON.stringify(data)}
echo "uid=$(id -u)"
echo "node=$(node --version) npm=$(npm --version)"
if cat "$D/admin.token" 2>/dev/null; then echo "BROKEN: read the data folder"; else echo "refused: data folder"; fi
if ls "$D" 2>/dev/null | grep -q admin.token; then echo "BROKEN: listed the data folder"; else echo "refused: list data folder"; fi
if echo x > "$D/escape" 2>/dev/null; then echo "BROKEN: wrote the data folder"; else echo "refused: write data folder"; fi
if touch /usr/noops-was-here 2>/dev/null; then echo "BROKEN: wrote /usr"; else echo "refused: write /usr"; fi
if touch /etc/noops-was-here 2>/dev/null; then echo "BROKEN: wrote /etc"; else echo "refused: write /etc"; fi
if touch "$HOME/../../escape" 2>/dev/null; then echo "BROKEN: wrote beside its folder"; else echo "refused: write beside"; fi
if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ]; then echo "BROKEN: sees the docker socket"; else echo "refused: docker socket"; fi
if node -e 'require("net").connect("/var/run/docker.sock").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' 2>/dev/null; then echo "BROKEN: reached the engine"; else echo "refused: engine"; fi
if grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status && grep -q '^CapBnd:[[:space:]]*0000000000000000$' /proc/self/status; then echo "refused: capabilities"; else echo "BROKEN: has capabilities"; fi
if grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status; then echo "refused: new privileges"; else echo "BROKEN: setuid works"; fi
if su -c 'id -u' root </dev/null 2>/dev/null | grep -qx 0; then echo "BROKEN: su to root"; else echo "refused: su"; fi
if unshare -r id -u 2>/dev/null | grep -qx 0; then echo "BROKEN: root in a user namespace"; else echo "refused: user namespace"; fi
if mkdir -p "$HOME/m" && mount -t tmpfs none "$HOME/m" 2>/dev/null; then echo "BROKEN: mounted"; else echo "refused: mount"; fi
echo "pids.max=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
exit 0
`;

const REFUSED = [
  'data folder',
  'list data folder',
  'write data folder',
  'write /usr',
  'write /etc',
  'write beside',
  'docker socket',
  'engine',
  'capabilities',
  'new privileges',
  'su',
  'user namespace',
  'mount',
].map((w) => `refused: ${w}`);

test('a build step in a container runs the host toolchain and fails at every attack on the host', { skip }, async () => {
  const sb = await TestDirs.create();
  try {
    const data = sb.root; // the server's data folder: the build's folder lies in it, as on a server
    writeFileSync(join(data, 'admin.token'), 'ADMIN-TOKEN-SECRET\n', { mode: 0o600 });
    const sandbox = await Sandbox.detect({ mode: 'auto', dataDir: data, readable: [], log: () => undefined });
    assert.equal(sandbox.kind, 'container');
    await sb.repo.commit({
      'package.json': JSON.stringify({ name: 'attack', version: '1.0.0', scripts: { build: 'sh attack.sh' } }),
      'package-lock.json': JSON.stringify({
        name: 'attack',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'attack', version: '1.0.0' } },
      }),
      'attack.sh': ATTACKS(data),
      Procfile: 'web: node server.js\n',
      'server.js': '',
    });
    const r = await runBuild({ ...sb.options(), ref: 'main', sandbox, owner: 'ctr-attacks' });
    const log = sb.log.join('');
    const got = log.split('\n').filter((l) => /^(refused: |BROKEN: )/.test(l));
    assert.deepEqual(got, REFUSED, log);
    const uid = Number(/^uid=(\d+)$/m.exec(log)?.[1]);
    assert.ok(uid >= BUILD_UID_BASE && uid < BUILD_UID_BASE + BUILD_UID_COUNT, `a build uid, not root: ${uid}`);
    assert.match(log, new RegExp(`^node=${process.version} npm=\\d+\\.\\d+\\.\\d+$`, 'm'), "the host's node and npm, in the container");
    assert.match(log, new RegExp(`^pids.max=${SANDBOX_LIMITS.processes}$`, 'm'));
    assert.match(log, new RegExp(`^memory=${SANDBOX_LIMITS.memoryBytes}$`, 'm'));
    assert.doesNotMatch(log, /ADMIN-TOKEN-SECRET/);
    assert.equal(existsSync(join(data, 'escape')), false);
    assert.equal(existsSync('/usr/noops-was-here'), false);
    assert.equal(readFileSync(join(data, 'admin.token'), 'utf8'), 'ADMIN-TOKEN-SECRET\n');
    assert.ok((await sb.entries(r.sha256)).includes('attack.sh'), 'the release is built');
    const left = await engine!.listContainers({ all: true, filters: ownedFilter({ [BUILD_LABEL]: 'ctr-attacks' }) });
    assert.equal(left.length, 0, 'no container left behind');
  } finally {
    await sb.close();
  }
});
