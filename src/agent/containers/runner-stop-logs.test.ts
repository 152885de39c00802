/**
 * On the host's real Docker Engine: a process's stop command runs inside its container (with
 * NOOPS_PID, its output in the logs) before the engine's kill, with the stop timeout's meaning;
 * the output a container wrote while no agent followed it reaches the log files once when the
 * next agent adopts it; starts go side by side, and one that fails leaves the others up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type HostNetwork } from '../../api/index.js';
import { logPaths, Supervisor, type WatchSpec } from '../../supervisor/index.js';
import { Scratch, until } from '../../supervisor/test-kit.js';
import { EngineRunner, markFileOf } from './runner.js';
import { freeTestNetwork, removeTestObjects } from './test-net.js';

const HOST = `runner-stop-test-${process.pid}`;
const scratch = new Scratch();
const runner = new EngineRunner({ host: HOST, log: () => undefined, concurrentStarts: 2 });
let docker: Dockerode;
let net: HostNetwork;

function containerSpec(command: string, over: Partial<WatchSpec> = {}): WatchSpec & { container: NonNullable<WatchSpec['container']> } {
  const base = scratch.spec(command, over);
  return {
    ...base,
    env: { ...base.env, NOOPS_NODE: process.execPath },
    startGraceMs: 300,
    container: {
      mounts: [{ source: process.execPath, target: process.execPath, readOnly: true }],
      volumes: [],
      stateDir: `${scratch.dir}/state`,
      labels: {
        [CONTAINER_LABELS.owned]: '1',
        [CONTAINER_LABELS.tag]: 'a.stoptest',
        [CONTAINER_LABELS.process]: base.id,
        [CONTAINER_LABELS.version]: 'v1',
      },
    },
  };
}

before(async () => {
  docker = await runner.engine();
  net = await freeTestNetwork(docker, `noops-rst-${process.pid}`);
  runner.setNetwork(net);
});

after(async () => {
  await removeTestObjects(docker, HOST, net.name);
  scratch.remove();
});

/** A node main process (pid 1) that ignores SIGTERM and ends on SIGUSR2 only. */
const DEAF = `exec "$NOOPS_NODE" -e "process.on('SIGTERM', () => console.log('ignored TERM')); process.on('SIGUSR2', () => { console.log('bye by stop command'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000)"`;

test('the stop command runs inside the container with NOOPS_PID, instead of the signal; its output is in the logs', async () => {
  const sup = new Supervisor({ containers: runner });
  const spec = containerSpec(DEAF, {
    stopCommand: 'echo "stop command for pid $NOOPS_PID in $PWD"; kill -USR2 $NOOPS_PID',
    stopTimeoutMs: 20_000,
  });
  sup.start(spec);
  await until('up', () => sup.status(spec.id)?.state === 'up', 30_000);
  const { out } = logPaths(spec);
  await until('its first line', () => existsSync(out) && readFileSync(out, 'utf8').includes('up'));
  const t0 = Date.now();
  await sup.stop(spec.id);
  const s = sup.status(spec.id)!;
  assert.equal(s.state, 'stopped');
  assert.equal(s.lastExit?.reason, 'stopped by request (the stop command)');
  assert.ok(Date.now() - t0 < 15_000, 'ended by the stop command, not by the kill after 20 s');
  await until('the stop command and the goodbye in the log', () => {
    const text = readFileSync(out, 'utf8');
    return text.includes(`stop command for pid 1 in ${scratch.dir}`) && text.includes('bye by stop command');
  });
  assert.doesNotMatch(readFileSync(out, 'utf8'), /ignored TERM/, 'no stop signal was sent');
});

test('a stop command that does not end the container: the engine kills it after the stop timeout', async () => {
  const sup = new Supervisor({ containers: runner });
  const spec = containerSpec(DEAF, { stopCommand: 'echo not stopping', stopTimeoutMs: 1_000 });
  sup.start(spec);
  const up = await until('up', () => sup.status(spec.id)?.state === 'up' && sup.status(spec.id), 30_000);
  await sup.stop(spec.id);
  assert.equal(sup.status(spec.id)?.lastExit?.reason, 'killed with SIGKILL: still running 1000 ms after the stop command');
  await assert.rejects(docker.getContainer(up.container!).inspect(), 'the container is removed');
});

test('what a container wrote while no agent followed it reaches its log files once, on adoption', async () => {
  const first = new Supervisor({ containers: runner });
  const spec = containerSpec('i=0; while :; do i=$((i+1)); echo "out-$i"; echo "err-$i" >&2; sleep 0.1; done');
  first.start(spec);
  const up = await until('up', () => first.status(spec.id)?.state === 'up' && first.status(spec.id), 30_000);
  const { out, err } = logPaths(spec);
  const numbers = (file: string, prefix: string): number[] =>
    existsSync(file) ? [...readFileSync(file, 'utf8').matchAll(new RegExp(`^${prefix}-(\\d+)$`, 'gm'))].map((m) => Number(m[1])) : [];
  await until('a few lines captured', () => numbers(out, 'out').length >= 3);
  first.detach(); // the agent goes away; the container keeps writing
  const container = docker.getContainer(up.container!);
  const writtenBy = async (): Promise<number> => {
    const text = ((await container.logs({ stdout: true, stderr: false, follow: false })) as Buffer).toString('latin1');
    return Math.max(0, ...[...text.matchAll(/out-(\d+)/g)].map((m) => Number(m[1])));
  };
  const captured = Math.max(...numbers(out, 'out'));
  await until('lines written while no agent ran', async () => (await writtenBy()) >= captured + 10, 20_000);
  assert.ok(existsSync(markFileOf(spec)), 'the mark is in the state folder');
  const second = new Supervisor({ containers: runner });
  second.adopt(spec, { pid: 0, startTime: 0 });
  await until('adopted', () => second.status(spec.id)?.adopted, 10_000);
  const seen = await writtenBy();
  await until('lines after the adoption', () => Math.max(0, ...numbers(out, 'out')) > seen + 3, 20_000);
  await second.stop(spec.id);
  for (const [file, prefix] of [
    [out, 'out'],
    [err, 'err'],
  ] as const) {
    const got = numbers(file, prefix);
    assert.deepEqual(
      got,
      Array.from({ length: got.length }, (_, i) => i + 1),
      `${prefix}: every line from the first, once, in order`,
    );
  }
});

test('starts go side by side; one that cannot start fails alone, the others are up', async () => {
  const sup = new Supervisor({ containers: runner, flapping: null, backoffBaseMs: 60_000 });
  const good = [1, 2, 3].map(() => containerSpec('sleep 600'));
  const bad = containerSpec('sleep 600');
  bad.container = { ...bad.container, image: 'noops-no-such-image:1' };
  for (const s of [...good, bad]) sup.start(s);
  await until('the good ones up', () => good.every((s) => sup.status(s.id)?.state === 'up'), 30_000);
  await until(
    'the bad one failed',
    () => /could not start: the image noops-no-such-image:1/.test(sup.status(bad.id)?.lastExit?.reason ?? sup.status(bad.id)?.reason ?? ''),
    10_000,
  );
  await Promise.all([...good, bad].map((s) => sup.stop(s.id)));
});
