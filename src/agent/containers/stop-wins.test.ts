/**
 * A stop always wins, on the real engine: a stop that comes while the process's container is
 * being adopted (after an agent restart) or started ends that container before it resolves,
 * instead of leaving it running unwatched; and an adoption stops the other running containers of
 * its process (an older version whose stop did not finish before the agent went away).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import { Supervisor, type ContainerHandle, type ContainerRunner, type ContainerSpec, type WatchSpec } from '../../supervisor/index.js';
import { Scratch, until } from '../../supervisor/test-kit.js';
import { ownedFilter } from '../../engine/index.js';
import { EngineRunner } from './runner.js';
import { removeTestObjects } from './test-net.js';

const HOST = `stopwins-${process.pid}`;
const TAG = 'a.stopwins';
const scratch = new Scratch();
const runner = new EngineRunner({ host: HOST, log: () => undefined });
let docker: Dockerode;
/** Every supervisor of the tests: stopped at the end, so a failed test's does not start its container again after the cleanup. */
const supervisors: Supervisor[] = [];

function supervisor(containers: ContainerRunner): Supervisor {
  const sup = new Supervisor({ containers });
  supervisors.push(sup);
  return sup;
}

function spec(command: string, version = 'v1', over: Partial<WatchSpec> = {}): WatchSpec & { container: ContainerSpec } {
  const base = scratch.spec(command, over);
  return {
    ...base,
    container: {
      mounts: [],
      volumes: [],
      stateDir: `${scratch.dir}/state`,
      labels: {
        [CONTAINER_LABELS.owned]: '1',
        [CONTAINER_LABELS.tag]: TAG,
        [CONTAINER_LABELS.process]: base.id,
        [CONTAINER_LABELS.version]: version,
      },
    },
  };
}

/** The containers (any state) of the process `id` on the engine. */
async function containersOf(id: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: ownedFilter({ [CONTAINER_LABELS.tag]: TAG, [CONTAINER_LABELS.process]: id, [CONTAINER_LABELS.host]: HOST }),
  });
}

/** A runner whose starts and adoptions do their work, then wait for `open()` before they answer. */
class GatedRunner implements ContainerRunner {
  #open!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.#open = resolve));
  /** the work is done (the container made or found), the answer waits */
  done = false;

  open(): void {
    this.#open();
  }

  async start(s: WatchSpec & { container: ContainerSpec }, runAs: Parameters<ContainerRunner['start']>[1]): Promise<ContainerHandle> {
    const handle = await runner.start(s, runAs);
    this.done = true;
    await this.gate;
    return handle;
  }

  async adopt(s: WatchSpec & { container: ContainerSpec }): Promise<ContainerHandle | null> {
    const handle = await runner.adopt(s);
    this.done = true;
    await this.gate;
    return handle;
  }
}

before(async () => {
  docker = await runner.engine();
});

after(async () => {
  await Promise.all(supervisors.map((s) => s.stopAll()));
  await removeTestObjects(docker, HOST);
  scratch.remove();
});

test('a stop while the container is being adopted ends it before the stop resolves', async () => {
  const s = spec('sleep 600');
  const first = supervisor(runner);
  first.start(s);
  const up = await until('up', () => first.status(s.id)?.state === 'up' && first.status(s.id), 30_000);
  first.detach(); // the agent exits for an upgrade: the container keeps running

  const gated = new GatedRunner();
  const second = supervisor(gated);
  second.adopt(s, { pid: 0, startTime: 0 });
  await until('the container found', () => gated.done, 10_000);
  const stopped = second.stop(s.id);
  gated.open(); // the adoption finishes after the stop began
  await stopped;
  assert.equal(second.status(s.id)?.state, 'stopped');
  assert.deepEqual(await containersOf(s.id), [], `container ${up.container} gone once the stop resolved`);
});

test('a stop while the container is being started ends it before the stop resolves', async () => {
  const s = spec('sleep 600');
  const gated = new GatedRunner();
  const sup = supervisor(gated);
  sup.start(s);
  await until('the container made', () => gated.done, 30_000);
  const stopped = sup.stop(s.id);
  gated.open();
  await stopped;
  assert.equal(sup.status(s.id)?.state, 'stopped');
  assert.deepEqual(await containersOf(s.id), [], 'gone once the stop resolved');
});

test('an adoption stops the other running containers of its process', async () => {
  const old = spec('sleep 600', 'v1', { stopTimeoutMs: 1_000 });
  const cur = { ...old, container: { ...old.container, labels: { ...old.container.labels, [CONTAINER_LABELS.version]: 'v2' } } };
  const a = await runner.start(old, undefined);
  const b = await runner.start(cur, undefined);
  a.release();
  b.release(); // an agent went away with both running (the stop of v1 never finished)
  const sup = supervisor(runner);
  sup.adopt(cur, { pid: 0, startTime: 0 });
  const adopted = await until('adopted', () => sup.status(cur.id)?.adopted && sup.status(cur.id), 10_000);
  assert.equal(adopted.container, b.id);
  const left = await until(
    'v1 gone',
    async () => {
      const list = await containersOf(cur.id);
      return list.length === 1 && list;
    },
    30_000,
  );
  assert.equal(left[0]!.Id, b.id, 'v2 runs on');
  await sup.stop(cur.id);
});
