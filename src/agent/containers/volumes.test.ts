/**
 * The host's volumes on the real engine: the agent lists those noops made for it (with whether a
 * container mounts them) and removes one only when noops made it and nothing mounts it; a volume
 * made by hand (no labels) is never listed nor removed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import type { NoopsError } from '../../errors/index.js';
import { BASE_REPO, connectEngine, OWNED_LABELS } from '../../engine/index.js';
import { removeTestObjects } from './test-net.js';
import { listVolumes, removeVolume } from './volumes.js';

const HOST = `volumes-test-${process.pid}`;
const name = (n: string): string => `noops-vt${process.pid}-${n}`;
let docker: Dockerode;

before(async () => {
  docker = await connectEngine();
});

after(async () => {
  await removeTestObjects(docker, HOST);
  await docker
    .getVolume(name('byhand'))
    .remove()
    .catch(() => undefined);
});

test('lists the volumes of noops on this host; removes one only when noops made it and no container mounts it', async () => {
  const labels = { ...OWNED_LABELS, [CONTAINER_LABELS.host]: HOST, [CONTAINER_LABELS.tag]: 'a.vt', [CONTAINER_LABELS.process]: 'web' };
  await docker.createVolume({ Name: name('free'), Labels: labels });
  await docker.createVolume({ Name: name('used'), Labels: labels });
  await docker.createVolume({ Name: name('byhand'), Labels: { [CONTAINER_LABELS.host]: HOST } });
  const image = (await docker.listImages({ filters: { reference: [BASE_REPO] } }))[0]?.RepoTags?.[0];
  assert.ok(image, 'a base image on this engine');
  const user = await docker.createContainer({
    Image: image,
    Cmd: ['/bin/sh', '-c', 'true'],
    Labels: { ...OWNED_LABELS, [CONTAINER_LABELS.host]: HOST },
    HostConfig: { Mounts: [{ Type: 'volume', Source: name('used'), Target: '/data' }] },
  }); // made, never started: a stopped container still holds its volume

  const listed = await listVolumes(docker, HOST);
  assert.deepEqual(
    listed.map((v) => [v.name, v.tag, v.process, v.inUse, v.containers]),
    [
      [name('free'), 'a.vt', 'web', false, []],
      [name('used'), 'a.vt', 'web', true, [user.id.slice(0, 12)]],
    ],
  );
  await assert.rejects(
    removeVolume(docker, HOST, name('used')),
    (e: NoopsError) => e.code === 'NOOPS_E_VOLUME_IN_USE' && e.message.includes(user.id.slice(0, 12)),
  );
  await assert.rejects(
    removeVolume(docker, HOST, name('byhand')),
    (e: NoopsError) => e.code === 'NOOPS_E_VOLUME_UNKNOWN' && /noops did not make it/.test(e.message),
  );
  await assert.rejects(
    removeVolume(docker, 'another-host', name('free')),
    (e: NoopsError) => e.code === 'NOOPS_E_VOLUME_UNKNOWN' && /another agent's/.test(e.message),
  );
  await assert.rejects(
    removeVolume(docker, HOST, name('none')),
    (e: NoopsError) => e.code === 'NOOPS_E_VOLUME_UNKNOWN' && /none of that name/.test(e.message),
  );
  assert.equal((await removeVolume(docker, HOST, name('free'))).name, name('free'));
  await assert.rejects(docker.getVolume(name('free')).inspect(), 'removed');
  await docker.getVolume(name('used')).inspect(); // kept
  await docker.getVolume(name('byhand')).inspect(); // never touched
  await user.remove({ force: true });
});
