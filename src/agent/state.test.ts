import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host } from './host.js';
import { rebuildInstances, scanProcesses, type FoundProcess } from './rebuild.js';
import { readState, saveIdentity, saveState, type AgentState } from './state.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const VERSION = 'abcdef123';
const SHA = 'a'.repeat(64);
const manifest = {
  schema: 1,
  job: 'cop.acme_owt.web_pdl.shop_service.api_job.web',
  version: VERSION,
  commit: VERSION.padEnd(40, '0'),
  repo: 'r',
  builtAt: '2024-05-01T12:00:00.000Z',
  stack: 'procfile',
  env: {},
  processes: [{ name: 'web', command: 'exec sleep 60', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 0 }],
  crons: [{ name: 'stamp', schedule: '0 0 * * *', command: 'true', env: {}, timeout: 60 }],
};

test('the state and the identity are written whole, mode 0600, with no temp file left', () => {
  const root = mkdtempSync(join(dir, 'w-'));
  const state: AgentState = {
    generation: 3,
    instances: {},
    local: { processes: {} },
    runtimesUsed: {},
    server: { id: 's1', generation: 3 },
  };
  saveState(root, state);
  saveState(root, { ...state, generation: 4 });
  saveIdentity(root, { server: 'http://x', name: 'h1', token: 'secret' });
  assert.deepEqual(readdirSync(root).sort(), ['agent.json', 'state.json']);
  assert.equal(statSync(join(root, 'state.json')).mode & 0o777, 0o600);
  assert.equal(statSync(join(root, 'agent.json')).mode & 0o777, 0o600);
  assert.deepEqual(readState(root), { state: { ...state, generation: 4 } });
});

test('a missing state is empty; an unreadable one is moved aside, never read as empty silently', () => {
  const root = mkdtempSync(join(dir, 'c-'));
  assert.deepEqual(readState(root), { state: { generation: 0, instances: {}, local: { processes: {} }, runtimesUsed: {} } });
  for (const garbage of ['{"generation": 3, "instan', '[1,2]', 'null', '\0\0\0']) {
    writeFileSync(join(root, 'state.json'), garbage);
    const r = readState(root, new Date('2024-05-01T12:00:00.123Z'));
    assert.equal(r.corrupt?.aside, join(root, 'state.json.corrupt-2024-05-01T12-00-00-123Z'), garbage);
    assert.equal(readFileSync(r.corrupt!.aside, 'utf8'), garbage);
    assert.deepEqual(r.state.instances, {});
    rmSync(r.corrupt!.aside);
  }
});

/** A release folder as an install leaves it. */
function release(root: string): string {
  const rel = join(root, 'jobs', TAG, 'releases', VERSION);
  mkdirSync(rel, { recursive: true });
  writeFileSync(join(rel, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(
    join(rel, '.noops-release.json'),
    JSON.stringify({ tag: TAG, version: VERSION, sha256: SHA, installedAt: '2024-05-01T12:00:00.000Z' }),
  );
  return rel;
}

const found = (pid: number, env: Record<string, string>, cwd: string | null, pgrp = pid): FoundProcess => ({
  pid,
  startTime: pid * 10,
  pgrp,
  cwd,
  env,
});

test('the rebuild takes the group leaders of this root with their ports, and skips the rest', () => {
  const root = mkdtempSync(join(dir, 'r-'));
  const rel = release(root);
  const env = {
    NOOPS_TAG: TAG,
    NOOPS_VERSION: VERSION,
    NOOPS_PROCESS: 'web',
    NOOPS_RELEASE_DIR: rel,
    PORT: '4100',
    NOOPS_DEPLOY_KIND: 'rollback',
  };
  const notes: string[] = [];
  const instances = rebuildInstances(
    root,
    [
      found(100, env, rel),
      found(101, env, rel, 100), // its child
      found(102, { ...env, NOOPS_RELEASE_DIR: '/other/root/jobs/x' }, '/other/root/jobs/x'), // another agent's
      found(103, { ...env, NOOPS_PROCESS: 'stamp', PORT: '' }, rel), // a cron run
      found(104, env, '/tmp'), // says it is ours, runs elsewhere
      found(105, env, rel), // a second web
    ],
    (d) => (d === rel ? { sha256: SHA, manifest: manifest as never } : undefined),
    notes,
  );
  assert.deepEqual(instances, {
    [TAG]: {
      desired: { tag: TAG, version: VERSION, sha256: SHA, url: `/api/v1/artifacts/${SHA}`, manifest, deploymentId: null, kind: 'rollback' },
      ports: { web: 4100 },
      processes: { web: { pid: 100, startTime: 1000, restarts: 0 } },
      crons: { stamp: { pid: 103, startTime: 1030, startedAt: instances[TAG]!.crons!.stamp!.startedAt } },
    },
  });
  assert.deepEqual(notes, [
    `pid 104 (${TAG}/web) names this root but runs in /tmp: not adopted`,
    `pid 105 is a second ${TAG}/web: not adopted (stop it by hand)`,
  ]);
});

test('an unreadable state.json: the agent adopts the process that runs instead of starting a second copy', async () => {
  const root = mkdtempSync(join(dir, 'h-'));
  const rel = release(root);
  // The process as the supervisor started it: detached (its own group), in its release, with the instance's environment.
  const child = spawn('/bin/sh', ['-c', 'exec sleep 60'], {
    cwd: rel,
    detached: true,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH!,
      NOOPS_TAG: TAG,
      NOOPS_VERSION: VERSION,
      NOOPS_PROCESS: 'web',
      NOOPS_RELEASE_DIR: rel,
      NOOPS_DEPLOY_KIND: 'deploy',
      PORT: '4101',
    },
  });
  child.unref();
  after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  // exec'd into sleep, environment in place (before its exec, /proc shows the test runner's)
  const cmdline = (): string => {
    try {
      return readFileSync(`/proc/${child.pid}/cmdline`, 'latin1');
    } catch {
      return '';
    }
  };
  for (const deadline = Date.now() + 10_000; !cmdline().startsWith('sleep\0'); ) {
    assert.ok(Date.now() < deadline, `the test process never exec'd into sleep (cmdline ${JSON.stringify(cmdline())})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(join(root, 'state.json'), '{"generation": 7, "instances": {"cop');
  const lines: string[] = [];
  const host = new Host({ root, log: (l) => lines.push(l), supervisor: { pollMs: 50 } });
  await host.adoptAll();
  try {
    const s = host.supervisor.status(`${TAG}/web`);
    assert.equal(s?.pid, child.pid, 'the running process was adopted');
    assert.equal(s?.state, 'up');
    assert.equal(host.state.instances[TAG]?.ports.web, 4101);
    const copies = scanProcesses().filter((p) => p.env.NOOPS_TAG === TAG && p.env.NOOPS_RELEASE_DIR === rel && p.pgrp === p.pid);
    assert.deepEqual(
      copies.map((p) => p.pid),
      [child.pid],
      'no second copy',
    );
    const aside = readdirSync(root).filter((f) => f.startsWith('state.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.match(
      lines[0]!,
      /^state\.json could not be read \(.+\); moved aside to .+state\.json\.corrupt-.+; rebuilding it from the processes that run$/,
    );
    assert.ok(lines.includes('rebuilt the state: 1 instances, 1 running processes to adopt'), lines.join('\n'));
    assert.deepEqual(readState(root).state.instances[TAG]?.processes.web?.pid, child.pid, 'the rebuilt state is written');
  } finally {
    host.detach();
  }
});
