/**
 * The container runner under a real Supervisor, on the host's real Docker Engine: a process
 * runs in a container on its own address, logs into its files, is stopped and removed; an
 * over-memory process is reported oom; a new supervisor adopts a running container without
 * restarting it; a container started by hand (no labels) is never touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type HostNetwork } from '../../api/index.js';
import { Supervisor, type WatchSpec } from '../../supervisor/index.js';
import { Scratch, until } from '../../supervisor/test-kit.js';
import { BASE_REPO, ownedFilter } from '../../engine/index.js';
import { EngineRunner } from './runner.js';
import { freeTestNetwork, removeTestObjects } from './test-net.js';

const HOST = `runner-test-${process.pid}`;
const scratch = new Scratch();
const runner = new EngineRunner({ host: HOST, log: () => undefined });
let docker: Dockerode;
let net: HostNetwork;

/** A node one-liner the container runs with the agent's node, mounted read-only at its path. */
const NODE_SERVER = `"$NOOPS_NODE" -e "console.log('listening'); require('http').createServer((q, r) => r.end('hello ' + process.env.WHO)).listen(process.env.PORT)"`;

function containerSpec(command: string, over: Partial<WatchSpec> = {}, memory?: number): WatchSpec {
  const base = scratch.spec(command, over);
  return {
    ...base,
    env: { ...base.env, NOOPS_NODE: process.execPath, PORT: '8080', WHO: 'container' },
    startGraceMs: 300,
    container: {
      mounts: [
        { source: scratch.dir, target: scratch.dir, readOnly: true },
        { source: process.execPath, target: process.execPath, readOnly: true },
      ],
      volumes: [],
      ...(memory !== undefined && { resources: { memory } }),
      labels: {
        [CONTAINER_LABELS.owned]: '1',
        [CONTAINER_LABELS.tag]: 'a.test',
        [CONTAINER_LABELS.process]: base.id,
        [CONTAINER_LABELS.version]: 'v1',
      },
    },
  };
}

before(async () => {
  docker = await runner.engine();
  net = await freeTestNetwork(docker, `noops-rt-${process.pid}`);
  runner.setNetwork(net);
});

after(async () => {
  await removeTestObjects(docker, HOST, net.name);
  scratch.remove();
});

test('a process runs in a container on its own address, logs to its files, and is removed when stopped', async () => {
  const sup = new Supervisor({ containers: runner });
  const spec = containerSpec(NODE_SERVER);
  sup.start(spec);
  const up = await until('up', () => sup.status(spec.id)?.state === 'up' && sup.status(spec.id), 30_000);
  assert.ok(up.container, 'a container id');
  assert.match(up.address ?? '', /^198\.18\.\d+\.\d+$/);
  assert.ok(up.address!.startsWith(net.subnet.split('.').slice(0, 3).join('.')), `${up.address} is on ${net.subnet}`);
  const text = await until(
    'an answer',
    () =>
      fetch(`http://${up.address}:8080/`).then(
        (r) => r.text(),
        () => false,
      ),
    10_000,
  );
  assert.equal(text, 'hello container');
  await until('its output in its log', () => readFileSync(up.logs.out, 'utf8').includes('listening'));
  const [info] = await docker.listContainers({ filters: ownedFilter({ [CONTAINER_LABELS.host]: HOST }) });
  assert.ok(info!.Image.startsWith(`${BASE_REPO}:`), 'it runs in the base image');
  await sup.stop(spec.id);
  assert.equal(sup.status(spec.id)?.state, 'stopped');
  await assert.rejects(docker.getContainer(up.container!).inspect(), 'the container is removed');
});

test('a process over its memory limit is killed by the engine and reported oom', async () => {
  const sup = new Supervisor({ containers: runner, flapping: null, backoffBaseMs: 60_000 });
  const hog = `"$NOOPS_NODE" -e "const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 20)"`;
  const spec = containerSpec(hog, { startGraceMs: 60_000 }, 48 * 1024 * 1024);
  sup.start(spec);
  const dead = await until('an oom', () => sup.status(spec.id)?.oom === true && sup.status(spec.id), 30_000);
  assert.match(dead.lastExit?.reason ?? '', /oom/);
  assert.match(dead.reason, /killed for memory \(oom\)/);
  await sup.stop(spec.id);
});

test('a new supervisor adopts the running container without restarting it; a hand-started container is left alone', async () => {
  const base = (await docker.listImages({ filters: { reference: [`${BASE_REPO}`] } }))[0]!.RepoTags![0]!;
  const byHand = await docker.createContainer({
    Image: base,
    Cmd: ['/bin/sh', '-c', 'sleep 600'],
    Labels: { [CONTAINER_LABELS.tag]: 'a.test' },
  });
  await byHand.start();
  try {
    const first = new Supervisor({ containers: runner });
    const spec = containerSpec(NODE_SERVER);
    first.start(spec);
    const up = await until('up', () => first.status(spec.id)?.state === 'up' && first.status(spec.id), 30_000);
    first.detach();
    const second = new Supervisor({ containers: runner });
    second.adopt(spec, { pid: 0, startTime: 0 });
    const adopted = await until('adopted', () => second.status(spec.id)?.adopted && second.status(spec.id), 10_000);
    assert.equal(adopted.container, up.container, 'the same container');
    assert.equal(adopted.state, 'up');
    assert.equal(await fetch(`http://${adopted.address}:8080/`).then((r) => r.text()), 'hello container');
    await second.stop(spec.id);
    assert.equal((await byHand.inspect()).State.Running, true, 'the container without labels still runs');
  } finally {
    await byHand.remove({ force: true });
  }
});
