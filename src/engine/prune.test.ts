/**
 * Old base and build images on the real engine: of the noops-base and noops-build images this test
 * makes (labelled with its own run, so nothing of anyone else's is touched), the current one is
 * kept, one a container uses is kept, one without noops' labels is kept, one just made is kept
 * (the grace), and the old unused one is removed.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { BASE_LABEL, BASE_REPO } from './base-image.js';
import { BUILD_IMAGE_LABEL, BUILD_IMAGE_REPO } from './build-image.js';
import { connectEngine, OWNED_LABELS } from './engine.js';
import { pruneBaseImages, pruneBuildImages } from './prune.js';

const RUN = `ctrrun-prune-${process.pid}`;
const TEST_LABEL = 'noops.test';
const made: string[] = [];
const containers: Dockerode.Container[] = [];

/** Imports a one-file image named `<repo>:<RUN>-<name>` with `labels` (and this run's). */
async function image(docker: Dockerode, name: string, labels: Record<string, string>, repo = BASE_REPO): Promise<string> {
  const { create } = await import('tar');
  const dir = mkdtempSync(join(tmpdir(), 'noops-prune-'));
  try {
    writeFileSync(join(dir, 'x'), name);
    const tag = `${RUN}-${name}`;
    const changes = Object.entries({ ...labels, [TEST_LABEL]: RUN, [`${TEST_LABEL}.name`]: name }).map(([k, v]) => `LABEL ${k}=${v}`);
    const out = await docker.importImage(create({ cwd: dir, portable: true }, ['.']) as unknown as NodeJS.ReadableStream, {
      repo,
      tag,
      changes,
    });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(out, (err: Error | null) => (err ? reject(err) : resolve())));
    made.push(`${repo}:${tag}`);
    return `${repo}:${tag}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

after(async () => {
  const docker = await connectEngine();
  for (const c of containers) await c.remove({ force: true }).catch(() => undefined);
  for (const m of made)
    await docker
      .getImage(m)
      .remove()
      .catch(() => undefined);
});

test('old base images no container uses are removed; the current, the used and the unlabelled stay', async () => {
  const docker = await connectEngine();
  const kind = { [`${TEST_LABEL}.kind`]: 'base' };
  const ours = { ...OWNED_LABELS, ...kind, [BASE_LABEL]: 'old-hash' };
  const current = await image(docker, 'current', { ...OWNED_LABELS, ...kind, [BASE_LABEL]: 'current-hash' });
  const old = await image(docker, 'old', ours);
  const used = await image(docker, 'used', ours);
  const theirs = await image(docker, 'theirs', kind);
  containers.push(await docker.createContainer({ Image: used, Cmd: ['/x'], Labels: { ...OWNED_LABELS, [TEST_LABEL]: RUN } }));
  const logged: string[] = [];
  const only = { [TEST_LABEL]: RUN, [`${TEST_LABEL}.kind`]: 'base' };
  assert.deepEqual(
    await pruneBaseImages(docker, current, () => undefined, { only }),
    { removed: [], inUse: [] },
    'all just made: kept, none looked at',
  );
  const result = await pruneBaseImages(docker, current, (l) => logged.push(l), { only, graceMs: 0 });
  assert.deepEqual(result, { removed: [old], inUse: [used] });
  await assert.rejects(docker.getImage(old).inspect(), 'the old one is gone');
  for (const kept of [current, used, theirs]) await docker.getImage(kept).inspect(); // still there
  assert.match(logged.join('\n'), new RegExp(`removed the old base image ${old}`));
});

test('old build images no container uses are removed; the current, the used, the unlabelled and the base images stay', async () => {
  const docker = await connectEngine();
  const kind = { [`${TEST_LABEL}.kind`]: 'build' };
  const ours = { ...OWNED_LABELS, ...kind, [BUILD_IMAGE_LABEL]: 'old-hash' };
  const current = await image(docker, 'b-current', { ...OWNED_LABELS, ...kind, [BUILD_IMAGE_LABEL]: 'current-hash' }, BUILD_IMAGE_REPO);
  const old = await image(docker, 'b-old', ours, BUILD_IMAGE_REPO);
  const used = await image(docker, 'b-used', ours, BUILD_IMAGE_REPO);
  const theirs = await image(docker, 'b-theirs', kind, BUILD_IMAGE_REPO);
  const base = await image(docker, 'b-base', { ...OWNED_LABELS, ...kind, [BASE_LABEL]: 'old-hash' });
  containers.push(await docker.createContainer({ Image: used, Cmd: ['/x'], Labels: { ...OWNED_LABELS, [TEST_LABEL]: RUN } }));
  const logged: string[] = [];
  const result = await pruneBuildImages(docker, current, (l) => logged.push(l), { only: { [TEST_LABEL]: RUN, ...kind }, graceMs: 0 });
  assert.deepEqual(result, { removed: [old], inUse: [used] });
  await assert.rejects(docker.getImage(old).inspect(), 'the old one is gone');
  for (const kept of [current, used, theirs, base]) await docker.getImage(kept).inspect(); // still there
  assert.match(logged.join('\n'), new RegExp(`removed the old build image ${old}`));
});
