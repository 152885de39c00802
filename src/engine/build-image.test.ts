/**
 * noops' build image from the host's own files, on the real engine: /etc as another user reads it
 * (no shadow, nothing hidden), the toolchain folders bound, the stack programs found; named by its
 * content hash, labelled, verified, built once, and made again when the toolchain changes. Images
 * the tests make from their own /etc are removed by name at the end (the host's own is kept: other
 * tests and servers use it).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_IMAGE_LABEL, BUILD_IMAGE_REPO, buildImagePlan, ensureBuildImage } from './build-image.js';
import { connectEngine } from './engine.js';

const engine = await connectEngine().catch(() => undefined);
const skip = !engine ? 'needs the Docker Engine' : false;
const made: string[] = [];
const dirs: string[] = [];

after(async () => {
  for (const name of made)
    await engine
      ?.getImage(name)
      .remove()
      .catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fake /etc: a readable file, a secret one (0600), a folder others cannot enter, a link, and a hidden folder. */
function fakeEtc(): string {
  const etc = mkdtempSync(join(tmpdir(), 'noops-test-etc-'));
  dirs.push(etc);
  chmodSync(etc, 0o755);
  writeFileSync(join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
  writeFileSync(join(etc, 'shadow'), 'root:SECRET-HASH:1::::::\n', { mode: 0o600 });
  mkdirSync(join(etc, 'private'), { mode: 0o700 });
  writeFileSync(join(etc, 'private', 'key.pem'), 'KEY\n', { mode: 0o644 });
  mkdirSync(join(etc, 'noops-data'), { mode: 0o755 });
  writeFileSync(join(etc, 'noops-data', 'admin.token'), 'TOKEN\n', { mode: 0o644 });
  writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n', { mode: 0o644 });
  return etc;
}

test("the build image's content: /etc as another user reads it, never a hidden folder; the toolchain bound; the hash stable", () => {
  const etc = fakeEtc();
  const plan = buildImagePlan({ etcDir: etc, hide: [join(etc, 'noops-data')] });
  const paths = plan.entries.map((e) => e.path);
  assert.ok(paths.includes('/etc/passwd'));
  for (const p of ['/etc/shadow', '/etc/private/key.pem', '/etc/noops-data/admin.token', '/etc/hosts']) {
    assert.ok(!paths.includes(p), `${p} is not in the image`);
  }
  assert.ok(plan.mounts.includes('/usr'), '/usr is bound, not copied');
  assert.ok(
    plan.toolchain.some((t) => t.program === 'sh'),
    'the shell is found',
  );
  assert.ok(
    plan.toolchain.some((t) => t.program === 'node'),
    'node is found (this host runs it from /usr)',
  );
  assert.equal(buildImagePlan({ etcDir: etc, hide: [join(etc, 'noops-data')] }).hash, plan.hash, 'the same files, the same hash');
});

test('the build image is built once, labelled with its hash, verified, and made again when the toolchain changes', { skip }, async () => {
  const docker = engine!;
  const etc = fakeEtc();
  const tool = join(etc, 'toolchain-version');
  writeFileSync(tool, '1\n');
  const src = { etcDir: etc, fingerprint: [tool] };
  const logged: string[] = [];
  const first = await ensureBuildImage(docker, (l) => logged.push(l), src);
  made.push(first.image);
  const hash = buildImagePlan(src).hash;
  assert.equal(first.image, `${BUILD_IMAGE_REPO}:${hash.slice(0, 12)}`);
  assert.match(logged.join(''), /built the build image/);
  const labels = (await docker.getImage(first.image).inspect()).Config.Labels;
  assert.equal(labels[BUILD_IMAGE_LABEL], hash);
  assert.equal(labels['noops.owned'], '1');
  assert.ok(first.programs.includes('node'), first.programs.join(' '));

  const again: string[] = [];
  assert.equal((await ensureBuildImage(docker, (l) => again.push(l), src)).image, first.image);
  assert.deepEqual(again, [], 'not built again');

  writeFileSync(tool, '2\n'); // the host's toolchain changed
  const second = await ensureBuildImage(docker, () => undefined, src);
  made.push(second.image);
  assert.notEqual(second.image, first.image, 'a new image for the new toolchain');
  assert.equal((await docker.getImage(second.image).inspect()).Config.Labels[BUILD_IMAGE_LABEL], buildImagePlan(src).hash);
});

test('an image under the build image name without its label is refused, not used', { skip }, async () => {
  const docker = engine!;
  const etc = fakeEtc();
  const src = { etcDir: etc, fingerprint: [] };
  const name = `${BUILD_IMAGE_REPO}:${buildImagePlan(src).hash.slice(0, 12)}`;
  // an impostor: another image under this name (its label names another hash)
  const real = await ensureBuildImage(docker, () => undefined, { etcDir: etc, fingerprint: [join(etc, 'passwd')] });
  made.push(real.image, name);
  await docker.getImage(real.image).tag({ repo: BUILD_IMAGE_REPO, tag: name.split(':')[1] });
  await assert.rejects(
    ensureBuildImage(docker, () => undefined, src),
    { code: 'NOOPS_E_CONTAINER', message: /is not noops' build image/ },
  );
});
