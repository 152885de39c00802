import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredInstance } from '../api/index.js';
import { processDefaults } from '../release/index.js';
import { CronRunner, Supervisor } from '../supervisor/index.js';
import type { ReleaseStore } from './backends.js';
import { reconcile, type Failures } from './reconcile.js';
import { instanceDirs } from './specs.js';
import type { AgentState } from './state.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const VERSION = 'abc123456';

/** A release of one process (`port: auto`) that writes its replica and port to its log, then waits. */
function desired(replicas?: number): DesiredInstance {
  const command = `node -e "console.log('replica=' + process.env.NOOPS_REPLICA + ' of ' + process.env.NOOPS_REPLICAS + ' process=' + process.env.NOOPS_PROCESS + ' port=' + process.env.PORT); setInterval(() => {}, 1000)"`;
  return {
    tag: TAG,
    version: VERSION,
    sha256: 'a'.repeat(64),
    url: '/api/v1/artifacts/x',
    deploymentId: 1,
    kind: 'deploy',
    // the tests may run as root (as CI does): the agent runs a process as root only when allowed
    allowRoot: true,
    manifest: {
      schema: 1,
      job: TAG,
      version: VERSION,
      commit: VERSION,
      repo: 'r',
      builtAt: '',
      stack: 'manifest',
      env: {},
      processes: [{ ...processDefaults('web', { command }), port: 'auto', stopTimeout: 2, startGrace: 0 }],
    },
    ...(replicas !== undefined && { replicas }),
  };
}

/** Releases already on disk: the release folder is made, nothing is downloaded. */
function onDisk(root: string): ReleaseStore {
  return {
    install: async (opts) => {
      mkdirSync(instanceDirs(root, { tag: opts.tag, version: opts.version }).release, { recursive: true });
      return { downloaded: false };
    },
    activate: () => {},
    prune: async () => {},
  };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test('replicas: each copy has its own name, port, log files and NOOPS_REPLICA; a lower count stops only the extra copies', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-replicas-'));
  const supervisor = new Supervisor();
  try {
    const logs: string[] = [];
    let saves = 0;
    const deps = {
      root,
      supervisor,
      crons: new CronRunner(),
      releases: onDisk(root),
      download: async () => {},
      save: () => {
        saves++;
      },
      log: (l: string) => logs.push(l),
    };
    const state: AgentState = { generation: 0, instances: {} };
    const failures: Failures = new Map();
    const id = (n: string): string => `${TAG}/${n}`;
    const up = (n: string): boolean => supervisor.status(id(n))?.state === 'up';

    await reconcile(deps, state, [desired(3)], failures);
    assert.deepEqual(failures, new Map());
    await until('three replicas up', () => ['web', 'web@2', 'web@3'].every(up));
    const inst = state.instances[TAG]!;
    const ports = ['web', 'web@2', 'web@3'].map((n) => inst.ports[n]);
    assert.equal(new Set(ports).size, 3, `each replica has its own port: ${ports.join(', ')}`);
    const logDir = instanceDirs(root, inst.desired).log;
    for (const [i, n] of ['web', 'web@2', 'web@3'].entries()) {
      const file = join(logDir, `${n}.out.log`);
      await until(`${file} written`, () => existsSync(file) && readFileSync(file, 'utf8').includes('replica='));
      assert.equal(readFileSync(file, 'utf8').trim(), `replica=${i + 1} of 3 process=web port=${ports[i]}`);
    }
    const firstPid = supervisor.status(id('web'))!.pid;

    // the count goes down to 1 (the desired state's `replicas` absent): the extra copies stop, the first keeps running
    saves = 0;
    await reconcile(deps, state, [desired()], failures);
    assert.ok(saves > 0, 'the stopped copies are saved');
    assert.equal(supervisor.status(id('web@2')), undefined, 'web@2 stopped and forgotten');
    assert.equal(supervisor.status(id('web@3')), undefined, 'web@3 stopped and forgotten');
    assert.equal(supervisor.status(id('web'))!.pid, firstPid, 'the first replica is not restarted');
    assert.deepEqual(Object.keys(inst.ports), ['web']);
    assert.ok(
      logs.some((l) => l.endsWith('stopped web@2, web@3 (fewer replicas)')),
      logs.join('\n'),
    );

    // and up again: only the missing copy starts, with a new port of its own
    saves = 0;
    await reconcile(deps, state, [desired(2)], failures);
    assert.ok(saves > 0, 'the copy started is saved, with its port');
    await until('web@2 up again', () => up('web@2'));
    assert.equal(supervisor.status(id('web'))!.pid, firstPid);
    assert.notEqual(inst.ports['web@2'], undefined);
    assert.notEqual(inst.ports['web@2'], inst.ports.web);

    // the same desired state again (an answer that only staged a package): the copies run as
    // recorded, so nothing is saved and nothing changed
    saves = 0;
    const again = await reconcile(deps, state, [desired(2)], failures);
    assert.equal(saves, 0, 'no durable write for copies that run as recorded');
    assert.equal(again.changed, false);
  } finally {
    await supervisor.stopAll();
    rmSync(root, { recursive: true, force: true });
  }
});

test('without replicas a process sees no NOOPS_REPLICA: an instance runs exactly as before', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-replicas-one-'));
  const supervisor = new Supervisor();
  try {
    const deps = {
      root,
      supervisor,
      crons: new CronRunner(),
      releases: onDisk(root),
      download: async () => {},
      save: () => {},
      log: () => {},
    };
    const state: AgentState = { generation: 0, instances: {} };
    await reconcile(deps, state, [desired()], new Map());
    const file = join(instanceDirs(root, state.instances[TAG]!.desired).log, 'web.out.log');
    await until(`${file} written`, () => existsSync(file) && readFileSync(file, 'utf8').includes('replica='));
    assert.match(readFileSync(file, 'utf8'), /^replica=undefined of undefined process=web port=\d+$/m);
    assert.deepEqual(
      supervisor.list().map((s) => s.id),
      [`${TAG}/web`],
    );
  } finally {
    await supervisor.stopAll();
    rmSync(root, { recursive: true, force: true });
  }
});
