/**
 * Two servers on one Docker Engine, as root, on the real engine: build ids are each server's own,
 * so both have a build 1; the end of one server's build 1 removes only its own step containers,
 * never the other's running step; and a server that starts again removes the step containers a
 * crash of its own left, and no other server's. Skipped when not root or when no engine answers.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { connectEngine, ensureBuildImage, ownedFilter } from '../engine/index.js';
import { BUILD_LABEL, SERVER_LABEL } from './sandbox-container.js';
import { Sandbox, type SandboxSession } from './sandbox-run.js';

const root = process.getuid?.() === 0;
const engine = await connectEngine().catch(() => undefined);
const skip = !root || !engine ? 'needs root and the Docker Engine' : false;
const base = mkdtempSync(join(tmpdir(), 'noops-two-servers-'));
after(() => rmSync(base, { recursive: true, force: true }));

function server(name: string): Promise<Sandbox> {
  const data = join(base, name);
  mkdirSync(data, { recursive: true, mode: 0o700 });
  return Sandbox.detect({ mode: 'container', dataDir: data, readable: [], log: () => undefined });
}

async function workOf(box: SandboxSession, sandbox: Sandbox, name: string): Promise<string> {
  const work = join(sandbox.workRoot('builds'), name);
  mkdirSync(work, { recursive: true });
  await box.own(work);
  return work;
}

function step(box: SandboxSession, work: string, script: string) {
  return box.run(['/bin/sh', '-c', script], work, { cwd: work, env: { PATH: '/usr/bin:/bin' }, deadline: Date.now() + 120_000 });
}

test("one server's build 1 ending leaves the other server's build 1 running", { skip }, async () => {
  const one = await server('one');
  const two = await server('two');
  const a = one.open('1');
  const b = two.open('1');
  try {
    // b's step runs until the test says go (after a's build ended), then says it lived
    const workB = await workOf(b, two, 'b');
    const running = step(b, workB, 'while [ ! -e go ]; do sleep 0.1; done; echo b-lived');
    const bRuns = async () =>
      (await engine!.listContainers({ filters: ownedFilter({ [SERVER_LABEL]: join(base, 'two'), [BUILD_LABEL]: '1' }) })).length === 1;
    for (const deadline = Date.now() + 60_000; !(await bRuns()); ) {
      assert.ok(Date.now() < deadline, "b's step container runs");
      await new Promise((r) => setTimeout(r, 100));
    }
    await step(a, await workOf(a, one, 'a'), 'true');
    await a.close(); // the end of build 1 of server one
    writeFileSync(join(workB, 'go'), '');
    const r = await running;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'b-lived\n');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a server that starts again removes the step containers a crash of its own left, and no other server’s', { skip }, async () => {
  const data = join(base, 'crashed');
  const otherData = join(base, 'other');
  for (const d of [data, otherData]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const { image } = await ensureBuildImage(engine!, () => undefined); // the host's: the one the servers use
  // what a crash leaves: a step container of each server's build 5, still there
  const made: Dockerode.Container[] = [];
  for (const server of [data, otherData]) {
    made.push(
      await engine!.createContainer({
        Image: image,
        Cmd: ['/bin/sh', '-c', 'sleep 600'],
        Labels: { 'noops.owned': '1', [BUILD_LABEL]: '5', [SERVER_LABEL]: server },
      }),
    );
  }
  try {
    const lines: string[] = [];
    const again = await Sandbox.detect({ mode: 'container', dataDir: data, readable: [], log: (l) => void lines.push(l) });
    assert.equal(again.kind, 'container');
    assert.match(lines.join(''), /removed 1 build step container\(s\) a previous run of this server left/);
    const left = await engine!.listContainers({ all: true, filters: ownedFilter({ [BUILD_LABEL]: '5' }) });
    assert.deepEqual(
      left.filter((c) => c.Labels[SERVER_LABEL]?.startsWith(`${base}/`)).map((c) => c.Labels[SERVER_LABEL]),
      [otherData],
      "the other server's is kept",
    );
  } finally {
    for (const c of made) await c.remove({ force: true }).catch(() => undefined);
  }
});
