/**
 * The controller's doing, against the in-memory reader and writer (testing.ts), a real package
 * for the deploy tests, and agent reports written by the test. The same over a real store:
 * store-ports.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as tarCreate } from 'tar';
import type { AgentReport } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { RolloutController, type RolloutDeps } from './controller.js';
import type { HostHookContext } from './hooks.js';
import type { StoredDeployment } from './ports.js';
import type { MemoryRolloutStore } from './testing.js';
import { CLUSTER, HOSTS, healthyReport, manifest, seeded } from './test-fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-controller-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real release package whose deploy test writes what it was given into `out`. */
async function testPackage(out: string, exitCode: number): Promise<string> {
  const src = mkdtempSync(join(dir, 'pkg-'));
  writeFileSync(join(src, 'manifest.json'), JSON.stringify(manifest('bbbbbbbbb', ['sh check.sh'])));
  writeFileSync(
    join(src, 'check.sh'),
    `echo "$NOOPS_BATCH $NOOPS_INSTANCES $NOOPS_INSTANCES_WEB $GREETING $NOOPS_DEPLOY_KIND" >> ${out}\necho checked\nexit ${exitCode}\n`,
  );
  const file = join(dir, `pkg-${exitCode}-${Math.random()}.tar.gz`);
  await tarCreate({ gzip: true, file, cwd: src, portable: true }, ['manifest.json', 'check.sh']);
  return file;
}

interface Fleet {
  mem: MemoryRolloutStore;
  reports: Map<string, AgentReport>;
  hooks: string[];
  deps: RolloutDeps;
  controller: RolloutController;
  /** every host reports `version` up and healthy */
  healthy(hosts: string[], version: string): void;
}

async function fleet(
  opts: {
    deployTests?: string[];
    packagePath?: string;
    failBeforeStop?: string;
    mem?: MemoryRolloutStore;
    /** before-stop hooks wait until this settles (a balancer's drain) */
    holdBeforeStop?: Promise<void>;
    /** and then until what this answers settles (asked at each hook) */
    drain?: () => Promise<void>;
  } = {},
): Promise<Fleet> {
  const mem = opts.mem ?? seeded(opts.deployTests);
  const reports = new Map<string, AgentReport>();
  const hooks: string[] = [];
  const deps: RolloutDeps = {
    ...mem.ports(),
    lastReport: (h) => reports.get(h),
    notify: () => undefined,
    hasArtifact: async () => true,
    artifactPath: () => opts.packagePath ?? '/nonexistent',
    workDir: dir,
    resumeGraceMs: 0,
    hooks: {
      beforeStop: async (c: HostHookContext) => {
        hooks.push(`stop ${c.host} ${c.from}->${c.to} ${c.kind}`);
        await opts.holdBeforeStop;
        await opts.drain?.();
        if (c.host === opts.failBeforeStop && c.kind !== 'revert') throw new Error('the load balancer said no');
      },
      afterHealthy: async (c: HostHookContext) => {
        hooks.push(`healthy ${c.host} ${c.to} ${c.kind}`);
      },
    },
  };
  const controller = new RolloutController(deps);
  await controller.start();
  return {
    mem,
    reports,
    hooks,
    deps,
    controller,
    healthy(hosts, version) {
      for (const h of hosts) {
        reports.set(h, healthyReport(h, version));
        controller.onReport(h);
      }
    },
  };
}

/** Waits (against a deadline) until the deployment satisfies `ok`. */
async function until(f: Fleet, id: number, ok: (d: StoredDeployment) => boolean): Promise<StoredDeployment> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const d = f.controller.current(id) ?? f.mem.deployment(id)!;
    if (ok(d)) return d;
    if (Date.now() > deadline) assert.fail(`deployment #${id} never got there: ${JSON.stringify(d.progress)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const desiredVersions = async (mem: MemoryRolloutStore): Promise<Record<string, string | null>> => {
  const out: Record<string, string | null> = {};
  for (const h of HOSTS) out[h] = mem.desiredOf(h).find((e) => e.tag === CLUSTER)?.version ?? null;
  return out;
};

/** The audit entries of one action. */
const audited = (mem: MemoryRolloutStore, action: string) => mem.audits.filter((a) => a.action === action);

type Writer = RolloutDeps['write'];
/** How many calls a `refuse` refused. */
interface Refusals {
  refused: number;
}
const diskError = (): Error => new Error('disk I/O error');

/**
 * Makes the store's `method` refuse the calls `refuses` picks (it sees their arguments) with
 * `error` (a locked database by default), and counts them: a store error the controller must
 * come through without losing anything.
 */
function refuse<K extends 'setDesiredMany' | 'updateDeployment' | 'audit'>(
  f: Fleet,
  method: K,
  refuses: (...args: Parameters<Writer[K]>) => boolean,
  error: () => Error = () => new Error('database is locked'),
): Refusals {
  const count = { refused: 0 };
  const write = f.deps.write;
  const original = (write[method] as (...args: unknown[]) => Promise<unknown>).bind(write);
  write[method] = (async (...args: Parameters<Writer[K]>) => {
    if (refuses(...args)) {
      count.refused++;
      throw error();
    }
    return original(...args);
  }) as unknown as Writer[K];
  return count;
}

test('a batched rollout changes desired state batch by batch, calls the hooks, and ends succeeded', async () => {
  const f = await fleet();
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.deepEqual(await desiredVersions(f.mem), { h1: 'aaaaaaaaa', h2: null, h3: null, h4: null }, 'batch 1 only');
  assert.deepEqual(d.progress.batches, [['h1'], ['h2', 'h3', 'h4']]);
  await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'bbbbbbbbb', kind: 'deploy', initiator: 'bob' }), {
    code: 'NOOPS_E_DEPLOY_LOCKED',
    message: new RegExp(`^deployment #${d.id} \\(deploy of aaaaaaaaa, started by alice at .*\\) is running on ${CLUSTER}$`),
  });
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  assert.deepEqual(await desiredVersions(f.mem), { h1: 'aaaaaaaaa', h2: 'aaaaaaaaa', h3: 'aaaaaaaaa', h4: 'aaaaaaaaa' });
  f.healthy(['h2', 'h3', 'h4'], 'aaaaaaaaa');
  const done = await until(f, d.id, (x) => x.status !== 'running');
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(done.hostResults, { h1: 'succeeded', h2: 'succeeded', h3: 'succeeded', h4: 'succeeded' });
  assert.deepEqual(f.mem.deployment(d.id)!.status, 'succeeded', 'stored');
  assert.deepEqual(f.hooks.slice(0, 2), ['stop h1 null->aaaaaaaaa deploy', 'healthy h1 aaaaaaaaa deploy']);
  assert.equal(f.hooks.length, 8);
  assert.deepEqual(audited(f.mem, 'deploy.succeeded').length, 1);
  await f.controller.stop();
});

test("as a deploy's batch starts, the next batch's hosts are staged the package; its end unstages it; a rollback stages nothing", async () => {
  const f = await fleet();
  const calls: string[] = [];
  f.deps.stage = async (hosts, pkg) => {
    calls.push(`stage ${hosts.join(',')} ${pkg.version} ${pkg.sha256.slice(0, 4)}`);
  };
  f.deps.unstage = (tag, sha256) => calls.push(`unstage ${tag === CLUSTER ? 'cluster' : tag} ${sha256.slice(0, 4)}`);
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  const sha = f.mem.releases.find((x) => x.version === 'aaaaaaaaa')!.sha256.slice(0, 4);
  assert.deepEqual(calls, [`stage h2,h3,h4 aaaaaaaaa ${sha}`], 'batch 1 started: batch 2 staged');
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  assert.deepEqual(calls, [`stage h2,h3,h4 aaaaaaaaa ${sha}`], 'the last batch started: nothing after it');
  f.healthy(['h2', 'h3', 'h4'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.status !== 'running');
  await until(f, d.id, () => calls.length === 2);
  assert.deepEqual(calls, [`stage h2,h3,h4 aaaaaaaaa ${sha}`, `unstage cluster ${sha}`]);
  calls.length = 0;
  const r = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'rollback', initiator: 'alice' });
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, r.id, (x) => x.status !== 'running');
  assert.deepEqual(calls, [], 'a rollback goes to releases mostly on the hosts already');
  await f.controller.stop();
});

test('an unstaging waits for the staging still being written (its rows would outlive the deployment)', async () => {
  const f = await fleet();
  const calls: string[] = [];
  let written!: () => void;
  f.deps.stage = async () => {
    calls.push('stage begun');
    await new Promise<void>((resolve) => {
      written = resolve;
    });
    calls.push('stage written');
  };
  f.deps.unstage = () => calls.push('unstage');
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  f.healthy(['h2', 'h3', 'h4'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.status === 'succeeded');
  assert.deepEqual(calls, ['stage begun'], 'ended, its staging not yet written: not unstaged yet');
  written();
  await until(f, d.id, () => calls.length === 3);
  assert.deepEqual(calls, ['stage begun', 'stage written', 'unstage']);
  await f.controller.stop();
});

test('a deploy whose first batch waits on a drain answers running, and switches the batch once the drain is done', async () => {
  let drained!: () => void;
  const holdBeforeStop = new Promise<void>((resolve) => {
    drained = resolve;
  });
  const f = await fleet({ holdBeforeStop });
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.equal(d.status, 'running', 'answered before the drain ended');
  assert.deepEqual(f.hooks, ['stop h1 null->aaaaaaaaa deploy']);
  assert.deepEqual(await desiredVersions(f.mem), { h1: null, h2: null, h3: null, h4: null }, 'nothing switched while draining');
  await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'bbbbbbbbb', kind: 'deploy', initiator: 'bob' }), {
    code: 'NOOPS_E_DEPLOY_LOCKED',
  });
  drained();
  const deadline = Date.now() + 10_000;
  while ((await desiredVersions(f.mem)).h1 !== 'aaaaaaaaa') {
    if (Date.now() > deadline) assert.fail('h1 was never switched after its drain');
    await new Promise((r) => setTimeout(r, 10));
  }
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  f.healthy(['h2', 'h3', 'h4'], 'aaaaaaaaa');
  assert.equal((await until(f, d.id, (x) => x.status !== 'running')).status, 'succeeded');
  await f.controller.stop();
});

test('a server that stops mid-rollout resumes from the store where it was', async () => {
  const f = await fleet();
  const d = await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: [1] },
  });
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  await f.controller.stop();
  // a second server on the same store, with reports only from hosts that reported since
  const g = await fleet({ mem: f.mem });
  assert.equal(g.controller.current(d.id)?.hostResults.h2, 'deploying');
  g.healthy(['h1', 'h2'], 'aaaaaaaaa');
  await until(g, d.id, (x) => x.hostResults.h3 === 'deploying');
  g.healthy(['h3'], 'aaaaaaaaa');
  await until(g, d.id, (x) => x.hostResults.h4 === 'deploying');
  g.healthy(['h4'], 'aaaaaaaaa');
  const done = await until(g, d.id, (x) => x.status !== 'running');
  assert.equal(done.status, 'succeeded');
  const log = done.progress!.log.map((l) => l.message);
  assert.ok(log.includes('the server restarted; resuming (deploying, batch 2 of 4)'), log.join('\n'));
  await g.controller.stop();
});

test('a failing before-stop hook fails its host and the deploy rolls back', async () => {
  const f = await fleet({ failBeforeStop: 'h1' });
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  const done = await until(f, d.id, (x) => x.status !== 'running');
  assert.equal(done.status, 'rolled_back');
  assert.equal(
    done.message,
    '1 host(s) failed in batch 1 of 2: h1: the before-stop hook failed: the load balancer said no; every changed host is back on its previous release',
  );
  assert.deepEqual(await desiredVersions(f.mem), { h1: null, h2: null, h3: null, h4: null });
  await f.controller.stop();
});

test('deploy tests run from the package with the instances; a failure rolls the deploy back', async () => {
  const out = join(dir, 'tests.out');
  const f = await fleet({ deployTests: ['sh check.sh'], packagePath: await testPackage(out, 0) });
  // v1 everywhere first, all at once
  const d1 = await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: ['100%'] },
  });
  f.healthy(HOSTS, 'aaaaaaaaa');
  assert.equal((await until(f, d1.id, (x) => x.status !== 'running')).status, 'succeeded');
  assert.equal(
    readFileSync(out, 'utf8'),
    '1 10.0.0.1:8001,10.0.0.2:8002,10.0.0.3:8003,10.0.0.4:8004 10.0.0.1:8001,10.0.0.2:8002,10.0.0.3:8003,10.0.0.4:8004 hi deploy\n',
  );
  const tests = f.mem.deployment(d1.id)!.progress!.tests;
  assert.deepEqual(
    tests.map((r) => [r.batch, r.status, r.commands]),
    [[0, 'passed', [{ command: 'sh check.sh', code: 0, output: 'checked\n' }]]],
  );
  await f.controller.stop();

  rmSync(out, { force: true });
  const g = await fleet({ mem: f.mem, packagePath: await testPackage(out, 3) });
  g.healthy(HOSTS, 'aaaaaaaaa');
  const d2 = await g.controller.startDeploy({
    tag: CLUSTER,
    version: 'bbbbbbbbb',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: [2] },
  });
  g.healthy(['h1', 'h2'], 'bbbbbbbbb');
  const done = await until(g, d2.id, (x) => x.status !== 'running' || x.progress?.phase === 'reverting');
  assert.equal(
    readFileSync(out, 'utf8'),
    '1 10.0.0.1:8001,10.0.0.2:8002 10.0.0.1:8001,10.0.0.2:8002 hi deploy\n',
    'after the first batch: its instances only',
  );
  assert.equal(done.progress!.outcome!.message, 'the deploy tests failed after batch 1 of 2: "sh check.sh" exited with code 3');
  assert.deepEqual(await desiredVersions(g.mem), { h1: 'aaaaaaaaa', h2: 'aaaaaaaaa', h3: 'aaaaaaaaa', h4: 'aaaaaaaaa' });
  assert.equal(g.mem.desiredOf('h1')[0]!.kind, 'rollback', 'processes sent back see NOOPS_DEPLOY_KIND=rollback');
  g.healthy(['h1', 'h2'], 'aaaaaaaaa');
  assert.equal((await until(g, d2.id, (x) => x.status !== 'running')).status, 'rolled_back');
  await g.controller.stop();
});

test('pause, resume, promote and abort through the controller; commands on an ended deployment are refused', async () => {
  const f = await fleet();
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice', canary: ['h3'] });
  assert.deepEqual(await desiredVersions(f.mem), { h1: null, h2: null, h3: 'aaaaaaaaa', h4: null });
  f.healthy(['h3'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.progress?.phase === 'canary');
  await f.controller.act(d.id, 'pause', 'bob');
  const promoted = await f.controller.act(d.id, 'promote', 'bob');
  assert.equal(promoted.progress.phase, 'canary', 'held by the pause');
  await f.controller.act(d.id, 'resume', 'bob');
  await until(f, d.id, (x) => x.hostResults.h1 === 'deploying');
  await f.controller.act(d.id, 'abort', 'carol');
  f.healthy(['h3'], 'other');
  for (const h of HOSTS) f.reports.set(h, { generation: 2, failures: [], processes: [] });
  f.healthy([], '');
  for (const h of HOSTS) f.controller.onReport(h);
  const done = await until(f, d.id, (x) => x.status !== 'running');
  assert.deepEqual([done.status, done.message], ['aborted', 'aborted by carol; every changed host is back on its previous release']);
  await assert.rejects(f.controller.act(d.id, 'resume', 'bob'), {
    code: 'NOOPS_E_DEPLOY_STATE',
    message: `cannot resume deployment #${d.id}: it has ended (aborted)`,
  });
  await assert.rejects(f.controller.act(9999, 'resume', 'bob'), { code: 'NOOPS_E_NOT_FOUND' });
  assert.deepEqual(
    audited(f.mem, 'deploy.promote').map((a) => a.actor),
    ['bob'],
  );
  await f.controller.stop();
});

test("another server's deployment written after this one's check: the writer's refusal names it, and nothing is written", async () => {
  const mem = seeded();
  const a = await fleet({ mem });
  const b = await fleet({ mem });
  const first = await a.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  // b checked before a's deployment was committed: its check saw nothing; the store's lock decides
  mem.runningDeploymentOn = async () => undefined;
  const audits = mem.audits.length;
  await assert.rejects(b.controller.startDeploy({ tag: CLUSTER, version: 'bbbbbbbbb', kind: 'deploy', initiator: 'bob' }), {
    code: 'NOOPS_E_DEPLOY_LOCKED',
    message: new RegExp(`^deployment #${first.id} \\(deploy of aaaaaaaaa, started by alice at .*\\) is running on ${CLUSTER}$`),
  });
  assert.deepEqual(
    mem.allDeployments().map((d) => d.id),
    [first.id],
    'no second deployment',
  );
  assert.equal(mem.audits.length, audits, 'no audit entry');
  assert.deepEqual(await desiredVersions(mem), { h1: 'aaaaaaaaa', h2: null, h3: null, h4: null }, "the first's batch 1 only");
  await a.controller.stop();
  await b.controller.stop();
});

test('a deploy whose first step fails ends failed and leaves its cluster unlocked', async (t) => {
  for (const method of ['setDesiredMany', 'updateDeployment'] as const) {
    await t.test(`when ${method} fails`, async () => {
      const f = await fleet();
      f.mem.failOnce(method, new Error(`the disk is full (${method})`));
      await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' }), {
        message: `the disk is full (${method})`,
      });
      const [failed] = f.mem.allDeployments().filter((d) => d.tag === CLUSTER);
      assert.equal(failed!.status, 'failed');
      assert.equal(failed!.message, `the deployment could not start: the disk is full (${method})`);
      assert.deepEqual(await desiredVersions(f.mem), { h1: null, h2: null, h3: null, h4: null }, 'the host it changed went back');
      const next = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'bob' });
      assert.equal(next.status, 'running', 'not locked');
      await f.controller.stop();
    });
  }
});

test("a deploy's start reads each thing it needs once, and asks the lock one question", async () => {
  const f = await fleet();
  f.mem.calls.length = 0;
  await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.deepEqual(f.mem.calls, [
    'cluster',
    'release',
    'joined', // the plan's check that every host joined: their names alone
    'runningDeploymentOn',
    'desired', // under the cluster's lock: its holder, what runs now
    'createDeployment',
    'setDesiredMany',
    'updateDeployment', // the first step's writes
  ]);
  // a release that runs as root reads the root grants, once; a release that needs runtimes, the runtimes
  f.mem.releases.push({
    ...f.mem.releases[0]!,
    version: 'ccccccccc',
    manifest: {
      ...manifest('ccccccccc'),
      runtimes: { node: '22.1.0' },
      processes: [{ ...manifest('ccccccccc').processes[0]!, user: 'root' }],
    },
  });
  f.mem.calls.length = 0;
  await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'ccccccccc', kind: 'deploy', initiator: 'alice' }), {
    code: 'NOOPS_E_RUNTIME_UNKNOWN',
  });
  assert.deepEqual(
    f.mem.calls,
    ['cluster', 'release', 'hosts', 'runtimes'],
    "the hosts' rows (labels) only for a release that needs runtimes: read once, no names before them",
  );
  f.mem.runtimeRows.push({
    name: 'node',
    version: '22.1.0',
    sha256: 'd'.repeat(64),
    size: 1,
    platform: 'any',
    exports: { path: [], env: {} },
    root: '',
    createdBy: 'admin',
    createdAt: new Date().toISOString(),
  });
  f.mem.calls.length = 0;
  await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'ccccccccc', kind: 'deploy', initiator: 'alice' }), {
    code: 'NOOPS_E_ROOT_NOT_ALLOWED',
  });
  assert.deepEqual(f.mem.calls, ['cluster', 'release', 'hosts', 'runtimes', 'rootScopes']);
  await f.controller.stop();
});

test('a deploy to a cluster that names a host that never joined is refused, naming it, and changes nothing', async () => {
  const f = await fleet();
  const cluster = f.mem.clusters.get(CLUSTER)!;
  f.mem.clusters.set(CLUSTER, { ...cluster, hosts: [...cluster.hosts, 'ghost'] });
  f.mem.calls.length = 0;
  await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' }), {
    code: 'NOOPS_E_HOST_UNKNOWN',
    message: `host "ghost" of cluster ${CLUSTER} has never joined`,
  });
  assert.deepEqual(f.mem.calls, ['cluster', 'release', 'joined'], 'nothing written');
  // a release that needs a runtime the server lacks: that is said first, as before (its check reads the rows)
  f.mem.releases.push({
    ...f.mem.releases[0]!,
    version: 'ccccccccc',
    manifest: { ...manifest('ccccccccc'), runtimes: { node: '22.1.0' } },
  });
  f.mem.calls.length = 0;
  await assert.rejects(f.controller.startDeploy({ tag: CLUSTER, version: 'ccccccccc', kind: 'deploy', initiator: 'alice' }), {
    code: 'NOOPS_E_RUNTIME_UNKNOWN',
  });
  assert.deepEqual(f.mem.calls, ['cluster', 'release', 'hosts', 'runtimes']);
  await f.controller.stop();
});

test("a round's hosts are woken once its progress is saved, not while it still writes; a refused save wakes them all the same", async () => {
  const f = await fleet();
  const calls: string[] = [];
  f.deps.notify = (h) => calls.push(`wake ${h}`);
  const write = f.deps.write;
  for (const method of ['setDesiredMany', 'updateDeployment'] as const) {
    const original = (write[method] as (...args: unknown[]) => Promise<unknown>).bind(write);
    write[method] = (async (...args: unknown[]) => {
      calls.push(method);
      return original(...args);
    }) as never;
  }
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.deepEqual(calls.slice(calls.indexOf('setDesiredMany')), ['setDesiredMany', 'updateDeployment', 'wake h1'], 'batch 1');
  calls.length = 0;
  // the next round's save is refused: the hosts it wrote are woken all the same
  let once = true;
  const refused = refuse(f, 'updateDeployment', (_id, patch) => {
    const no = once && (patch.hostChanges ?? []).some((c) => c.host === 'h2');
    if (no) {
      once = false;
      calls.push('refused');
    }
    return no;
  });
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, () => calls.includes('wake h4'));
  assert.equal(refused.refused, 1, 'the save was refused');
  const wrote = calls.indexOf('setDesiredMany');
  assert.deepEqual(
    calls.slice(wrote, wrote + 5),
    ['setDesiredMany', 'refused', 'wake h2', 'wake h3', 'wake h4'],
    `batch 2 woken after its refused save: ${calls.join(', ')}`,
  );
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  await f.controller.stop();
});

test("a round that sends a failed host back and starts the next batch wakes the host sent back before the next batch's hooks end", async () => {
  const mem = seeded();
  const cluster = mem.clusters.get(CLUSTER)!;
  cluster.policy = { ...cluster.policy, batch: [2, '100%'], max_failures: 1, pause: 0 };
  const f = await fleet({ mem });
  const woken: string[] = [];
  f.deps.notify = (h) => woken.push(h);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const hooks = f.deps.hooks!;
  const beforeStop = hooks.beforeStop!;
  hooks.beforeStop = async (c) => {
    if (c.host === 'h3' || c.host === 'h4') await held; // the next batch's drain
    return beforeStop(c);
  };
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.deepEqual(d.progress.batches, [
    ['h1', 'h2'],
    ['h3', 'h4'],
  ]);
  f.reports.set('h1', {
    ...healthyReport('h1', 'aaaaaaaaa'),
    processes: [],
    failures: [{ tag: CLUSTER, version: 'aaaaaaaaa', error: 'boom' }],
  });
  f.controller.onReport('h1');
  f.healthy(['h2'], 'aaaaaaaaa');
  // h1's revert is written and h1 woken while batch 2's hooks still wait
  await until(f, d.id, () => woken.filter((h) => h === 'h1').length === 2);
  assert.equal((await desiredVersions(f.mem)).h1, null, 'h1 sent back');
  assert.ok(!woken.includes('h3') && !woken.includes('h4'), `batch 2 still in its hooks: ${woken.join(', ')}`);
  release();
  await until(f, d.id, () => woken.includes('h3') && woken.includes('h4'));
  await f.controller.stop();
});

test('a save the store refuses: the hosts that round changed are written by the next one', async () => {
  const f = await fleet();
  let armed = false;
  const store: Refusals = refuse(
    f,
    'updateDeployment',
    (_, fields) => armed && store.refused === 0 && (fields.hostChanges?.length ?? 0) > 0,
    diskError,
  );
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  armed = true; // the save of h1 going healthy fails once
  f.healthy(['h1'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.hostResults.h2 === 'deploying');
  f.healthy(['h2', 'h3', 'h4'], 'aaaaaaaaa');
  await until(f, d.id, (x) => x.status !== 'running');
  assert.equal(store.refused, 1);
  const stored = f.mem.deployment(d.id)!;
  assert.equal(stored.status, 'succeeded');
  assert.deepEqual(stored.hostResults, { h1: 'succeeded', h2: 'succeeded', h3: 'succeeded', h4: 'succeeded' }, 'h1 written after all');
  assert.equal((stored.progress!.hosts as Record<string, { state: string }>).h1!.state, 'succeeded');
  await f.controller.stop();
});

test('a round whose action fails is taken again from where it started: a failed host whose revert was refused once still rolls back', async () => {
  const f = await fleet();
  let armed = false;
  const store: Refusals = refuse(f, 'setDesiredMany', () => armed && store.refused === 0);
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.deepEqual(await desiredVersions(f.mem), { h1: 'aaaaaaaaa', h2: null, h3: null, h4: null });
  armed = true; // the revert's write
  f.reports.set('h1', {
    ...healthyReport('h1', 'aaaaaaaaa'),
    processes: [],
    failures: [{ tag: CLUSTER, version: 'aaaaaaaaa', error: 'boom' }],
  });
  f.controller.onReport('h1');
  const done = await until(f, d.id, (x) => x.status !== 'running');
  assert.equal(store.refused, 1, 'the revert was refused once');
  assert.equal(done.status, 'rolled_back');
  assert.deepEqual(await desiredVersions(f.mem), { h1: null, h2: null, h3: null, h4: null }, 'h1 sent back after all');
  const stored = f.mem.deployment(d.id)!;
  assert.equal(stored.status, 'rolled_back');
  assert.match(stored.hostResults.h1 ?? '', /^reverted after failing: boom/);
  await f.controller.stop();
});

/** Settles with `p`, or fails the test if it has not settled within 10 s (a command never answered). */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not answered in 10 s`)), 10_000);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test("a command whose round's revert is refused once is applied by the next round, and answered", async () => {
  const f = await fleet();
  let armed = false;
  const store: Refusals = refuse(f, 'setDesiredMany', () => armed && store.refused === 0);
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  armed = true; // the abort's revert of h1
  await within(f.controller.act(d.id, 'abort', 'carol'), 'the abort');
  assert.equal(store.refused, 1, 'the revert was refused once');
  assert.deepEqual(await desiredVersions(f.mem), { h1: null, h2: null, h3: null, h4: null }, 'h1 sent back');
  f.reports.set('h1', { generation: 2, failures: [], processes: [] });
  f.controller.onReport('h1');
  const done = await until(f, d.id, (x) => x.status !== 'running');
  assert.equal(done.status, 'aborted');
  assert.equal(f.mem.deployment(d.id)!.status, 'aborted');
  await f.controller.stop();
});

test('a command whose save is refused once is answered when a later save writes it', async () => {
  const f = await fleet();
  const store: Refusals = refuse(f, 'updateDeployment', (_, fields) => fields.progress?.paused === true && store.refused === 0, diskError);
  const d = await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: [1] },
  });
  const paused = await within(f.controller.act(d.id, 'pause', 'bob'), 'the pause');
  assert.equal(store.refused, 1);
  assert.equal(paused.progress.paused, true);
  assert.equal(f.mem.deployment(d.id)!.progress!.paused, true, 'stored');
  assert.deepEqual(
    audited(f.mem, 'deploy.pause').map((a) => a.actor),
    ['bob'],
  );
  await f.controller.stop();
});

test('a deployment whose final save is refused once ends in the store at the next round', async () => {
  const f = await fleet();
  const store: Refusals = refuse(f, 'updateDeployment', (_, fields) => fields.status !== undefined && store.refused === 0, diskError);
  const d = await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: ['100%'] },
  });
  f.healthy(HOSTS, 'aaaaaaaaa');
  const deadline = Date.now() + 10_000;
  while (f.mem.deployment(d.id)!.status === 'running') {
    if (Date.now() > deadline) assert.fail(`deployment #${d.id} never ended in the store (refused ${store.refused} saves)`);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(store.refused, 1);
  const stored = f.mem.deployment(d.id)!;
  assert.equal(stored.status, 'succeeded');
  assert.ok(stored.endedAt);
  assert.equal(f.controller.current(d.id), undefined, 'no longer stepped');
  assert.deepEqual(
    audited(f.mem, 'deploy.succeeded').map((a) => a.target),
    [CLUSTER],
  );
  await f.controller.stop();
});

test("a deployment's end whose audit entry is refused still ends, tells its views, and answers the round's commands", async () => {
  const f = await fleet();
  const store: Refusals = refuse(f, 'audit', (entry) => entry.action === 'deploy.succeeded', diskError);
  const seen: string[] = [];
  f.controller.on('change', (row) => seen.push(row.status));
  const d = await f.controller.startDeploy({
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    policy: { batch: ['100%'] },
  });
  f.healthy(HOSTS, 'aaaaaaaaa');
  const paused = await within(f.controller.act(d.id, 'pause', 'bob'), 'the pause taken by the round that ends it');
  assert.equal(paused.status, 'succeeded');
  assert.equal(store.refused, 1);
  assert.equal(f.mem.deployment(d.id)!.status, 'succeeded');
  assert.ok(seen.includes('succeeded'), 'the live views heard of the end');
  await f.controller.stop();
});

test('a command taken up by a round that outlives this server leading is answered: another server leads', async () => {
  // each host's drain waits on `gate` (none at first)
  let gate: Promise<void> = Promise.resolve();
  const f = await fleet({ drain: () => gate });
  let fenced = false;
  refuse(
    f,
    'updateDeployment',
    () => fenced,
    () => new NoopsError('NOOPS_E_FENCED', 'the rollout loop is led by s2 now'),
  );
  const d = await f.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  await f.controller.act(d.id, 'pause', 'bob');
  let drained!: () => void;
  gate = new Promise((resolve) => {
    drained = resolve;
  });
  f.healthy(['h1'], 'aaaaaaaaa');
  // taken by the round that starts batch 2, which then waits on its hosts' drains
  const resumed = f.controller.act(d.id, 'resume', 'bob');
  const deadline = Date.now() + 10_000;
  while (!f.hooks.some((h) => h.startsWith('stop h2 '))) {
    if (Date.now() > deadline) assert.fail(`batch 2 never started: ${JSON.stringify(f.hooks)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  f.controller.follow('its lease was lost'); // another server leads from here
  fenced = true;
  drained();
  await assert.rejects(within(resumed, 'the resume'), { code: 'NOOPS_E_NO_LEADER' });
  await f.controller.stop();
});
