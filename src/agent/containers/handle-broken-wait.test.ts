/**
 * On the real engine: the engine's wait (and output stream) breaking off while the container runs
 * (its connection closed: an engine restart, a proxy) is not a death. The container is not removed,
 * it is waited on again and its output followed again from its mark (each line once, in order);
 * its real end is then reported as before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import { until } from '../../supervisor/test-kit.js';
import { connectEngine, ensureBaseImage, OWNED_LABELS } from '../../engine/index.js';
import { followContainer } from './handle.js';
import { removeTestObjects } from './test-net.js';

const HOST = `brokenwait-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'noops-broken-wait-'));
let docker: Dockerode;

before(async () => {
  docker = await connectEngine();
});

after(async () => {
  await removeTestObjects(docker, HOST);
  rmSync(dir, { recursive: true, force: true });
});

/** The numbers of the `line-N` lines in the file, in order. */
function lines(file: string): number[] {
  if (!existsSync(file)) return [];
  return [...readFileSync(file, 'utf8').matchAll(/^line-(\d+)$/gm)].map((m) => Number(m[1]));
}

test('a wait and an output stream that break off while the container runs: waited on and followed again, not removed', {
  timeout: 120_000,
}, async () => {
  const image = await ensureBaseImage(docker, () => undefined);
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo "line-$i"; sleep 0.1; done'],
    Labels: { ...OWNED_LABELS, [CONTAINER_LABELS.host]: HOST },
  });
  await container.start();
  let waits = 0;
  let streams = 0;
  // the engine's connection breaks: the first output stream ends after 300 ms, the first wait fails after 500 ms
  const flaky = new Proxy(container, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (key === 'wait')
        return async (opts: object) => {
          if (++waits > 1) return target.wait(opts);
          await sleep(500);
          throw new Error('socket hang up');
        };
      if (key === 'logs')
        return async (opts: object) => {
          const stream = (await target.logs(opts as { follow: true })) as NodeJS.ReadableStream & { destroy(): void };
          if (++streams === 1) setTimeout(() => stream.destroy(), 300);
          return stream;
        };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const logs = { out: join(dir, 'p.out.log'), err: join(dir, 'p.err.log') };
  const handle = followContainer(flaky, await container.inspect(), { logs, markFile: join(dir, 'p.mark.json'), adopted: false });
  let ended = false;
  void handle.exited.then(() => (ended = true));

  await until('waited on again', () => waits >= 2, 20_000);
  await until('followed again', () => streams >= 2, 20_000);
  const seen = Math.max(0, ...lines(logs.out));
  await until('lines after the break in the file', () => Math.max(0, ...lines(logs.out)) > seen + 10, 30_000);
  assert.equal(ended, false, 'not reported dead');
  assert.equal((await container.inspect()).State.Running, true, 'still running');

  await container.kill({ signal: 'SIGKILL' });
  const end = await handle.exited;
  assert.equal(end.code, 137);
  await assert.rejects(container.inspect(), 'removed once it really ended');
  const got = lines(logs.out);
  assert.deepEqual(
    got,
    Array.from({ length: got.length }, (_, i) => i + 1),
    'each line once, in order, across the break',
  );
});
