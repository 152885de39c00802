import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredInstance } from '../api/index.js';
import { sha256File } from '../artifacts/index.js';
import { NoopsError } from '../errors/index.js';
import { defaultExports, type RuntimeRef } from '../runtimes/index.js';
import { makeTarball } from '../runtimes/test-runtimes.js';
import { CronRunner, type ProcessStatus, type WatchSpec } from '../supervisor/index.js';
import type { ProcessSupervisor, ReleaseStore } from './backends.js';
import { reconcile, type Failures } from './reconcile.js';
import { RuntimePruner } from './install/runtime-prune.js';
import type { AgentState } from './state.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

function desired(version: string): DesiredInstance {
  return {
    tag: TAG,
    version,
    sha256: 'a'.repeat(64),
    url: '/api/v1/artifacts/x',
    deploymentId: 1,
    kind: 'deploy',
    manifest: {
      schema: 1,
      job: TAG,
      version,
      commit: version,
      repo: 'r',
      builtAt: '',
      stack: 'manifest',
      env: {},
      processes: [{ name: 'app', command: 'true', port: null, env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 0 }],
    },
  };
}

/** A supervisor that records starts; nothing runs. */
function recordingSupervisor(started: string[]): ProcessSupervisor {
  const status = (spec: WatchSpec): ProcessStatus => ({
    id: spec.id,
    state: 'up',
    pid: null,
    startTime: null,
    startedAt: null,
    restarts: 0,
    failedStarts: 0,
    since: 0,
    reason: '',
    adopted: false,
    logs: { out: '', err: '' },
    meta: {},
    retryAt: null,
    lastExit: null,
    restartPolicy: 'always',
  });
  return {
    start: (spec) => {
      started.push(spec.id);
      return status(spec);
    },
    hold: (spec) => status(spec),
    adopt: (spec) => status(spec),
    stop: async () => {},
    stopAll: async () => {},
    restart: async () => undefined,
    resume: () => undefined,
    signal: () => {},
    forget: () => 0,
    detach: () => [],
    status: () => undefined,
    list: () => [],
    events: () => [],
    spec: () => undefined,
    on: () => undefined,
  };
}

/** Releases whose install runs the download and fails with what it threw. */
function releases(): ReleaseStore {
  return {
    install: async (opts) => {
      await opts.download('/dev/null');
      return { downloaded: true };
    },
    activate: () => {},
    prune: async () => {},
  };
}

async function run(downloadError: Error): Promise<{ failures: Failures; retried: number; started: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'noops-reconcile-'));
  try {
    const failures: Failures = new Map();
    const started: string[] = [];
    let retried = 0;
    const state: AgentState = { generation: 0, instances: {} };
    await reconcile(
      {
        root,
        supervisor: recordingSupervisor(started),
        crons: new CronRunner(),
        releases: releases(),
        download: async () => {
          throw downloadError;
        },
        save: () => {},
        log: () => {},
        retryLater: () => {
          retried++;
        },
      },
      state,
      [desired('abc1234')],
      failures,
    );
    return { failures, retried, started };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('a server that cannot be reached is retried later, not reported as a failed release', async () => {
  const r = await run(new NoopsError('NOOPS_E_SERVER_UNREACHABLE', 'cannot reach the noops server'));
  assert.equal(r.retried, 1);
  assert.equal(r.failures.size, 0);
  assert.deepEqual(r.started, []);
});

test('a bad package is a failed release, reported to the server, not retried', async () => {
  const r = await run(new NoopsError('NOOPS_E_SHA256_MISMATCH', 'the downloaded package has sha256 x, expected y'));
  assert.equal(r.retried, 0);
  assert.match(r.failures.get(TAG)?.error ?? '', /sha256/);
});

/**
 * A runtime `tool` (any version, one package) and reconcile deps that download it: releases
 * `withTool(version, toolVersion)` use it.
 */
async function toolRuntimes(root: string, keepMs?: number) {
  const file = await makeTarball(root, { 'bin/tool': { text: '#!/bin/sh\n', mode: 0o755 } });
  const sha256 = await sha256File(file);
  const ref = (version: string): RuntimeRef => ({
    name: 'tool',
    version,
    sha256,
    url: `/runtime/${version}`,
    exports: defaultExports('tool'),
    platform: 'any',
  });
  const withTool = (version: string, toolVersion: string): DesiredInstance => {
    const d = desired(version);
    return { ...d, manifest: { ...d.manifest, runtimes: { tool: toolVersion } }, runtimes: [ref(toolVersion)] };
  };
  const deps = {
    root,
    supervisor: recordingSupervisor([]),
    crons: new CronRunner(),
    releases: releases(),
    ...(keepMs !== undefined && { runtimeKeepMs: keepMs }),
    download: async (url: string, dest: unknown) => {
      if (url.startsWith('/runtime/')) await copyFile(file, dest as string);
    },
    save: () => {},
    log: () => {},
  };
  return { withTool, deps };
}

test('a deploy that changes no runtime leaves the runtimes folder unread; one that installs one sweeps it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-reconcile-rt-'));
  try {
    const { withTool, deps } = await toolRuntimes(root);
    const state: AgentState = { generation: 0, instances: {} };
    const leftover = join(root, 'runtimes', 'tool', '.old-1-abc'); // what an interrupted removal leaves
    mkdirSync(leftover, { recursive: true });
    assert.deepEqual(await reconcile(deps, state, [desired('abc1234')], new Map()), { runtimesChanged: false, changed: true });
    assert.deepEqual(await reconcile(deps, state, [desired('def5678')], new Map()), { runtimesChanged: false, changed: true });
    assert.equal(state.instances[TAG]?.desired.version, 'def5678');
    assert.ok(existsSync(leftover), 'two deploys without runtimes: the folder was not swept');

    assert.deepEqual(await reconcile(deps, state, [withTool('aaa1111', '1')], new Map()), { runtimesChanged: true, changed: true });
    assert.ok(existsSync(join(root, 'runtimes', 'tool', '1')));
    assert.ok(!existsSync(leftover), 'the deploy that installed a runtime swept the folder');

    // the same runtime, another release: nothing installed, nothing read
    mkdirSync(leftover);
    assert.deepEqual(await reconcile(deps, state, [withTool('bbb2222', '1')], new Map()), { runtimesChanged: false, changed: true });
    assert.ok(existsSync(leftover));
    assert.ok(state.runtimesUsed?.['tool@1'], 'the runtime in use is stamped as used all the same');
  } finally {
    execFileSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a reconcile says whether it changed anything: not for the state already applied, yes for a new deployment of the same release', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-reconcile-same-'));
  try {
    const started: string[] = [];
    const base = recordingSupervisor(started);
    // what it started is supervised from then on, as with a real supervisor
    const supervisor: ProcessSupervisor = { ...base, status: (id) => (started.includes(id) ? base.hold({ id } as WatchSpec) : undefined) };
    const deps = {
      root,
      supervisor,
      crons: new CronRunner(),
      releases: releases(),
      download: async () => {},
      save: () => {},
      log: () => {},
    };
    const state: AgentState = { generation: 0, instances: {} };
    assert.equal((await reconcile(deps, state, [desired('abc1234')], new Map())).changed, true, 'a first release: switched');
    assert.equal(started.length, 1);
    // the same desired state again (as under a newer generation that only staged a package)
    assert.equal((await reconcile(deps, state, [desired('abc1234')], new Map())).changed, false);
    assert.equal(started.length, 1, 'nothing started again');
    // a new deployment of the same release: nothing to switch, but what the host records changed
    const again = { ...desired('abc1234'), deploymentId: 2 };
    assert.equal((await reconcile(deps, state, [again], new Map())).changed, true);
    assert.equal(state.instances[TAG]?.desired.deploymentId, 2);
    // a process the supervisor no longer has is started again: a change
    started.length = 0;
    assert.equal((await reconcile(deps, state, [again], new Map())).changed, true);
    assert.equal(started.length, 1);
    // removed
    assert.equal((await reconcile(deps, state, [], new Map())).changed, true);
    assert.equal(state.instances[TAG], undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a runtime used for longer than the keep time survives the deploy that replaces it, then goes by the timer alone', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-reconcile-rt-'));
  const keepMs = 1000;
  try {
    const { withTool, deps } = await toolRuntimes(root, keepMs);
    const state: AgentState = { generation: 0, instances: {} };
    let reconciling = false;
    const pruner = new RuntimePruner({ ...deps, state, everyMs: 50, busy: () => reconciling });
    const deploy = async (d: DesiredInstance): Promise<void> => {
      await pruner.idle(); // as the Agent does: a prune never runs beside a reconcile
      reconciling = true;
      await reconcile(deps, state, [d], new Map()).finally(() => {
        reconciling = false;
      });
    };
    const tool1 = join(root, 'runtimes', 'tool', '1');
    const tool2 = join(root, 'runtimes', 'tool', '2');
    await deploy(withTool('abc1234', '1'));
    assert.ok(existsSync(tool1));
    await sleep(keepMs * 1.5); // in use, with no deploy, for longer than the keep time

    const switchedAt = Date.now();
    await deploy(withTool('def5678', '2'));
    assert.ok(existsSync(tool2));
    assert.ok(existsSync(tool1), 'the runtime the deploy left unused is kept for a rollback');

    // No deploy from here on: the timer removes it once its keep time from the switch is over.
    pruner.start();
    try {
      const deadline = Date.now() + 15_000;
      while (existsSync(tool1) && Date.now() < deadline) await sleep(20);
      assert.ok(!existsSync(tool1), 'removed by the timer');
      assert.ok(Date.now() - switchedAt >= keepMs, `removed ${Date.now() - switchedAt} ms after the switch`);
      assert.ok(existsSync(tool2), 'the runtime in use stays');
    } finally {
      pruner.stop();
      await pruner.idle();
    }
  } finally {
    execFileSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  }
});
