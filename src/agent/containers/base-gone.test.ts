/**
 * What the agent knows once and keeps (its base image's name, its network) going missing under
 * it, on the real engine: the next start makes it again and runs instead of failing until the
 * agent restarts, and `prepare` (before a deploy) notices too; a start does not look the base
 * image up each time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type HostNetwork } from '../../api/index.js';
import type { ContainerSpec, WatchSpec } from '../../supervisor/index.js';
import { Scratch } from '../../supervisor/test-kit.js';
import { ensureBaseImage } from '../../engine/index.js';
import { EngineRunner } from './runner.js';
import { freeTestNetwork, removeTestObjects } from './test-net.js';

const HOST = `basegone-${process.pid}`;
/** The test's own name of the base image (a second tag of noops' base image: removing it removes nothing else). */
const REPO = `noops-basegone-${process.pid}`;
const scratch = new Scratch();
let docker: Dockerode;
let net: HostNetwork | undefined;
/** How often the runner made its base image. */
let made = 0;
/** How often the engine was asked about an image. */
let imageLooks = 0;

class CountingRunner extends EngineRunner {
  override async engine(): Promise<Dockerode> {
    const real = await super.engine();
    return new Proxy(real, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === 'getImage')
          return (name: string) => {
            const image = target.getImage(name);
            const inspect = image.inspect.bind(image);
            return Object.assign(image, {
              inspect: () => {
                imageLooks++;
                return inspect();
              },
            });
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

const runner = new CountingRunner({
  host: HOST,
  log: () => undefined,
  async baseImage(d) {
    made++;
    const real = await ensureBaseImage(d, () => undefined);
    await d.getImage(real).tag({ repo: REPO, tag: 'base' });
    return `${REPO}:base`;
  },
});

function spec(command: string): WatchSpec & { container: ContainerSpec } {
  const base = scratch.spec(command);
  return {
    ...base,
    container: {
      mounts: [],
      volumes: [],
      labels: {
        [CONTAINER_LABELS.owned]: '1',
        [CONTAINER_LABELS.tag]: 'a.basegone',
        [CONTAINER_LABELS.process]: base.id,
        [CONTAINER_LABELS.version]: 'v1',
      },
    },
  };
}

async function run(command: string): Promise<number | null> {
  return (await (await runner.start(spec(command), undefined)).exited).code;
}

before(async () => {
  docker = await runner.engine();
});

after(async () => {
  await removeTestObjects(docker, HOST, net?.name);
  await docker
    .getImage(`${REPO}:base`)
    .remove()
    .catch(() => undefined);
  scratch.remove();
});

test('a base image removed after the agent made it is made again by the next start, and by prepare', async () => {
  assert.equal(await run('true'), 0);
  const looks = imageLooks;
  assert.equal(await run('true'), 0);
  assert.equal(await run('true'), 0);
  assert.equal(imageLooks, looks, 'a start does not look the base image up');
  assert.equal(made, 1);

  await docker.getImage(`${REPO}:base`).remove(); // removed by hand, or pruned by another agent of the engine
  assert.equal(await run('true'), 0, 'the start after it runs');
  assert.equal(made, 2, 'made again once');

  await docker.getImage(`${REPO}:base`).remove();
  await runner.prepare(undefined);
  assert.equal(made, 3, 'prepare noticed');
  await docker.getImage(`${REPO}:base`).inspect();
  assert.equal(await run('true'), 0);
  assert.equal(made, 3);
});

test('a network removed after the agent made it is made again by the next start, and by prepare', async () => {
  net = await freeTestNetwork(docker, `noops-basegone-${process.pid}`);
  runner.setNetwork(net);
  assert.equal(await run('true'), 0);
  await docker.getNetwork(net.name).remove();
  assert.equal(await run('true'), 0, 'the start after it runs');
  await docker.getNetwork(net.name).inspect();

  await docker.getNetwork(net.name).remove();
  await runner.prepare(undefined);
  await docker.getNetwork(net.name).inspect(); // made again before any start
});
