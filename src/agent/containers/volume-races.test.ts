/**
 * An instance's volumes on the real engine: a volume removed between the agent's look and its
 * use (`noops volume rm`, or by hand) is made again with noops' labels and given to the process's
 * user (no check-then-use: the container's create makes it); volumes are named with the host, so
 * two agents of one engine never share one; a volume of the old name (before host names) that this
 * host made keeps being used with its data, and one another host made is not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import type { ContainerSpec, RunAs, WatchSpec } from '../../supervisor/index.js';
import { Scratch } from '../../supervisor/test-kit.js';
import { ensureBaseImage, OWNED_LABELS } from '../../engine/index.js';
import { hostVolumeName } from './instance-volumes.js';
import { EngineRunner } from './runner.js';
import { volumeName } from './spec.js';
import { removeTestObjects } from './test-net.js';

const HOST = `volrace-${process.pid}`;
const OTHER = `volrace-other-${process.pid}`;
const TAG = `a.volrace${process.pid}`;
const scratch = new Scratch();
/** A user that is not root: a volume made by the engine is root's until it is given. */
const USER: RunAs = { name: 'volrace', uid: 61_234, gid: 61_234, home: '/' };
let docker: Dockerode;

/** Runs before each create of a process's container (not of the container that gives a volume): a race's other side. */
let beforeCreate: ((opts: Dockerode.ContainerCreateOptions) => Promise<void>) | undefined;

/** An engine whose createContainer lets a test act just before it. */
class RacyRunner extends EngineRunner {
  override async engine(): Promise<Dockerode> {
    const real = await super.engine();
    return new Proxy(real, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === 'createContainer')
          return async (opts: Dockerode.ContainerCreateOptions) => {
            if (opts.Labels?.[CONTAINER_LABELS.tag] !== undefined) await beforeCreate?.(opts);
            return target.createContainer(opts);
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

const runner = new RacyRunner({ host: HOST, log: () => undefined });

/** A process of the instance `process` that runs `command` with its volume `data` at /data. */
function volumeSpec(process: string, command: string): WatchSpec & { container: ContainerSpec } {
  const base = scratch.spec(command);
  return {
    ...base,
    container: {
      mounts: [],
      volumes: [{ name: volumeName(TAG, process, 'data'), path: '/data' }],
      labels: {
        [CONTAINER_LABELS.owned]: '1',
        [CONTAINER_LABELS.tag]: TAG,
        [CONTAINER_LABELS.process]: process,
        [CONTAINER_LABELS.version]: 'v1',
      },
    },
  };
}

/** Runs the process to its end; its exit code. */
async function run(spec: WatchSpec & { container: ContainerSpec }, runAs: RunAs | undefined = USER): Promise<number | null> {
  const handle = await runner.start(spec, runAs);
  return (await handle.exited).code;
}

before(async () => {
  docker = await runner.engine();
});

after(async () => {
  for (const host of [HOST, OTHER]) await removeTestObjects(docker, host);
  scratch.remove();
});

test('a volume removed between the look and the use is made again, labelled and given to the user', async () => {
  assert.equal(await run(volumeSpec('web', 'touch /data/first')), 0, 'the first start writes to its new volume');
  const listed = await runner.volumes();
  assert.equal(listed.length, 1);
  const name = listed[0]!.name;
  // the race: the volume is removed after the agent knows of it and before its container is made
  beforeCreate = async () => {
    beforeCreate = undefined;
    await docker.getVolume(name).remove();
  };
  assert.equal(await run(volumeSpec('web', 'test ! -e /data/first && touch /data/second')), 0, 'a new, empty volume the user may write');
  assert.equal(beforeCreate, undefined, 'the race happened');
  const info = await docker.getVolume(name).inspect();
  assert.equal(info.Labels?.[CONTAINER_LABELS.owned], '1', "noops' label");
  assert.equal(info.Labels?.[CONTAINER_LABELS.host], HOST);
  assert.deepEqual(
    (await runner.volumes()).map((v) => v.name),
    [name],
    'listed as noops',
  );
});

test('noops volume rm just before a start makes its container: the start makes the volume again, labelled', async () => {
  assert.equal(await run(volumeSpec('api', 'touch /data/a')), 0);
  const name = (await runner.volumes()).find((v) => v.process === 'api')!.name;
  let refused: unknown;
  beforeCreate = async () => {
    beforeCreate = undefined;
    await runner.removeVolume(name).catch((err: unknown) => (refused = err));
  };
  assert.equal(await run(volumeSpec('api', 'touch /data/b')), 0);
  assert.equal(refused, undefined, 'nothing mounted it yet: removed');
  assert.equal((await docker.getVolume(name).inspect()).Labels?.[CONTAINER_LABELS.host], HOST, 'made again by the create');
});

test('volumes are named with the host; an old-named volume of this host keeps its data, one of another host is not used', async () => {
  const image = await ensureBaseImage(docker, () => undefined);
  /** An old-named volume (before host names) of `host`, holding a file `note` that says `text`. */
  const oldVolume = async (process: string, host: string, text: string) => {
    const name = volumeName(TAG, process, 'data');
    const labels = { ...OWNED_LABELS, [CONTAINER_LABELS.tag]: TAG, [CONTAINER_LABELS.process]: process, [CONTAINER_LABELS.host]: host };
    await docker.createVolume({ Name: name, Labels: labels });
    const c = await docker.createContainer({
      Image: image,
      Cmd: ['/bin/sh', '-c', `echo ${text} > /data/note && chown -R ${USER.uid}:${USER.gid} /data`],
      Labels: { ...OWNED_LABELS, [CONTAINER_LABELS.host]: host },
      HostConfig: { Mounts: [{ Type: 'volume', Source: name, Target: '/data' }] },
    });
    await c.start();
    assert.equal(((await c.wait()) as { StatusCode: number }).StatusCode, 0);
    await c.remove();
    return name;
  };
  const mine = await oldVolume('db', HOST, 'kept');
  const theirs = await oldVolume('cache', OTHER, 'not-yours');

  assert.equal(await run(volumeSpec('db', 'grep -q kept /data/note && touch /data/more')), 0, "this host's old volume, with its data");
  assert.equal(await run(volumeSpec('cache', 'test ! -e /data/note && touch /data/mine')), 0, "not another host's");
  const names = (await runner.volumes()).map((v) => v.name);
  assert.ok(names.includes(mine), `the old name is still used: ${names}`);
  assert.ok(!names.includes(hostVolumeName(HOST, mine)), 'no new volume beside it');
  assert.ok(names.includes(hostVolumeName(HOST, theirs)), `a volume of its own: ${names}`);
  assert.equal((await docker.getVolume(theirs).inspect()).Labels?.[CONTAINER_LABELS.host], OTHER, "the other host's is left alone");

  // once the old one is removed, the instance gets the host's name
  await runner.removeVolume(mine);
  assert.equal(await run(volumeSpec('db', 'test ! -e /data/note')), 0);
  assert.ok((await runner.volumes()).some((v) => v.name === hostVolumeName(HOST, mine)));
});
