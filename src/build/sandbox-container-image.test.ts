/**
 * The build image under a running server, on the real engine: a step whose image went missing (an
 * older one another server of the engine pruned, or one removed by hand) makes it again and runs,
 * instead of failing the build; and once the toolchain changes, the older build image is removed.
 * The images are made from a test's own /etc (their own hash), and the prune is narrowed to them:
 * nothing of another test or server is touched. Skipped when not root or when no engine answers.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_IMAGE_LABEL, buildImagePlan, connectEngine, DEFAULT_DOCKER_SOCKET } from '../engine/index.js';
import { SANDBOX_LIMITS } from './sandbox.js';
import { runStep, stepEngine } from './sandbox-container.js';
import { BUILD_UID_BASE, BUILD_UID_COUNT } from './sandbox-run.js';
import { UidLeases } from './uid-lease.js';

const docker = await connectEngine().catch(() => undefined);
const skip = !docker || process.getuid?.() !== 0 ? 'needs root and the Docker Engine' : false;
const made = new Set<string>();
const leases = process.getuid?.() === 0 ? new UidLeases() : undefined;
let held: number | undefined;
const dirs: string[] = [];

after(async () => {
  if (held !== undefined) leases?.free(held);
  for (const name of made)
    await docker
      ?.getImage(name)
      .remove()
      .catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
}

async function gone(image: string): Promise<boolean> {
  return docker!
    .getImage(image)
    .inspect()
    .then(
      () => false,
      () => true,
    );
}

test('a missing build image is made again at the next step; a new toolchain’s image replaces the old one', { skip }, async () => {
  const etc = tempDir('noops-test-etc-');
  writeFileSync(join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
  const tool = join(etc, 'toolchain-version');
  writeFileSync(tool, '1\n', { mode: 0o644 });
  const src = { etcDir: etc, fingerprint: [tool] };
  const first = buildImagePlan(src).hash;
  const logged: string[] = [];
  const engine = await stepEngine(DEFAULT_DOCKER_SOCKET, src, (l) => void logged.push(l), {
    prune: { only: { [BUILD_IMAGE_LABEL]: first }, graceMs: 0 }, // this test's first image alone
  });
  const a = await engine.image();
  made.add(a.image);

  const work = tempDir('noops-test-step-');
  // a build uid of its own (held host-wide, so no other build's end kills this step)
  const uid = leases!.take(Array.from({ length: BUILD_UID_COUNT }, (_, n) => BUILD_UID_BASE + n));
  assert.ok(uid !== undefined, 'a free build uid');
  held = uid;
  const step = {
    argv: ['/bin/sh', '-c', 'echo step-ran'],
    work,
    cwd: work,
    env: { PATH: '/usr/bin:/bin' },
    id: { uid, gid: uid },
    owner: `image-test-${process.pid}`,
    server: work, // (a server's data folder: this test's own)
  };
  const view = { readable: [], hide: [], limits: SANDBOX_LIMITS };
  await docker!.getImage(a.image).remove(); // gone under the server
  const r = await runStep(engine, view, step, { deadline: Date.now() + 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'step-ran\n');
  assert.equal(await gone(a.image), false, 'made again');

  writeFileSync(tool, '2\n'); // the host's toolchain changed
  const b = await engine.image(true); // (a build's first step looks again once IMAGE_RECHECK_MS passed)
  made.add(b.image);
  assert.notEqual(b.image, a.image, 'a new image for the new toolchain');
  const again = await runStep(engine, view, step, { deadline: Date.now() + 60_000 });
  assert.equal(again.code, 0, again.stderr);
  const deadline = Date.now() + 30_000;
  while (!(await gone(a.image)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
  assert.equal(await gone(a.image), true, 'the old build image is removed');
  assert.match(logged.join('\n'), new RegExp(`removed the old build image ${a.image}`));
});
