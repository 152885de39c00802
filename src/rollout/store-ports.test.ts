/**
 * The rollout's ports over a real (in-memory SQLite) store: what the server wires. The
 * controller's behaviour is tested over the in-memory fake (controller.test.ts); here, that the
 * store edge keeps what it writes and reads it back typed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../store/open.js';
import type { Store } from '../store/index.js';
import type { AgentReport } from '../api/index.js';
import { RolloutController } from './controller.js';
import { resolvePolicy } from './deploy-policy.js';
import type { Deployment } from './ports.js';
import { initialProgress } from './step.js';
import { headJson, headOf } from './running-deployment.js';
import { rolloutPorts } from './store-ports.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const at = '2024-05-01T12:00:00.000Z';

function deployment(over: Partial<Deployment> = {}): Omit<Deployment, 'id'> {
  return {
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    startedAt: at,
    endedAt: null,
    hosts: ['h1'],
    status: 'running',
    previous: { h1: null },
    hostResults: { h1: 'queued' },
    conf: {},
    message: null,
    deadline: at,
    progress: initialProgress(resolvePolicy(), [['h1']], false, at),
    ...over,
  };
}

test('a deployment and its audit entry are written together, or neither; its progress comes back typed', async () => {
  const store = await openStore('sqlite::memory:');
  const { read, write } = rolloutPorts(store);
  await assert.rejects(
    write.createDeployment(deployment(), () => {
      throw new Error('no audit entry');
    }),
    /no audit entry/,
  );
  assert.deepEqual(await store.listDeployments(), [], 'no deployment without its audit entry');
  const id = await write.createDeployment(deployment(), (created) => ({
    at,
    actor: 'alice',
    action: 'deploy',
    target: CLUSTER,
    detail: { deployment: created },
  }));
  assert.deepEqual(
    (await store.listAudit()).map((a) => a.detail),
    [{ deployment: id }],
  );
  const [running] = await read.runningDeployments();
  assert.deepEqual(running, { id, ...deployment() });
  assert.deepEqual(await read.runningDeploymentOn(CLUSTER), {
    id,
    tag: CLUSTER,
    version: 'aaaaaaaaa',
    kind: 'deploy',
    initiator: 'alice',
    startedAt: at,
  });
  await write.updateDeployment(id, { status: 'succeeded', endedAt: at });
  assert.equal(await read.runningDeploymentOn(CLUSTER), undefined);
  assert.deepEqual(await read.succeededDeployments(CLUSTER, 5), [{ version: 'aaaaaaaaa', kind: 'deploy' }]);
  assert.deepEqual(await read.deploymentStatus(id), { status: 'succeeded', kind: 'deploy' });
  await store.close();
});

test('the writer refuses a second running deployment of a cluster with NOOPS_E_DEPLOY_LOCKED naming the first, and writes nothing', async () => {
  const store = await openStore('sqlite::memory:');
  const { write } = rolloutPorts(store);
  const audit = (created: number) => ({ at, actor: 'alice', action: 'deploy', target: CLUSTER, detail: { deployment: created } });
  const first = await write.createDeployment(deployment(), audit);
  await assert.rejects(write.createDeployment(deployment({ version: 'bbbbbbbbb', initiator: 'bob' }), audit), {
    code: 'NOOPS_E_DEPLOY_LOCKED',
    message: `deployment #${first} (deploy of aaaaaaaaa, started by alice at ${at}) is running on ${CLUSTER}`,
  });
  assert.deepEqual(
    (await store.listDeployments()).map((d) => d.id),
    [first],
  );
  assert.equal((await store.listAudit()).length, 1, 'nor its audit entry');
  await write.updateDeployment(first, { status: 'succeeded', endedAt: at });
  assert.ok(await write.createDeployment(deployment({ version: 'bbbbbbbbb' }), audit), 'once it ended, the next one starts');
  await store.close();
});

test('an older deployment has no progress; an unreadable one says why, and the others still load', async () => {
  const store = await openStore('sqlite::memory:');
  const { read } = rolloutPorts(store);
  const { progress: _none, ...old } = deployment();
  const older = await store.createDeployment(old);
  // on another cluster: one cluster runs one deployment at a time (0011_deploy_lock)
  const broken = await store.createDeployment({ ...old, tag: `${JOB}_cluster.b`, progress: { phase: 'deploying' } });
  const rows = await read.runningDeployments();
  assert.deepEqual(
    rows.map((r) => [r.id, r.progress, r.unreadable]),
    [
      [broken, null, 'the stored progress is not one this server can read: policy: Invalid input: expected object, received undefined'],
      [older, null, undefined],
    ],
  );
  await store.close();
});

test('over a real store, a rollout stopped mid-way resumes where it was', async () => {
  const store: Store = await openStore('sqlite::memory:');
  for (const h of ['h1', 'h2']) await store.upsertHost({ name: h, labels: {}, address: null, joinedAt: at });
  await store.putCluster({ tag: CLUSTER, hosts: ['h1', 'h2'], policy: { batch: [1] }, conf: null, updatedAt: at });
  const manifest = { schema: 1, job: JOB, version: 'aaaaaaaaa', processes: [{ name: 'web', command: 'x', port: null, env: {} }] };
  await store.putRelease({
    job: JOB,
    version: 'aaaaaaaaa',
    commit: 'a'.repeat(40),
    repo: 'r',
    sha256: 'a'.repeat(64),
    size: 1,
    manifest,
    buildId: null,
    createdAt: at,
  });
  const reports = new Map<string, AgentReport>();
  const healthy = (h: string): void => {
    const since = new Date(Date.now() - 1000).toISOString();
    reports.set(h, {
      generation: 1,
      failures: [],
      processes: [
        {
          tag: CLUSTER,
          process: 'web',
          version: 'aaaaaaaaa',
          state: 'up',
          pid: 1,
          port: null,
          restarts: 0,
          startedAt: since,
          error: null,
          health: 'healthy',
          healthySince: since,
          healthError: null,
          downloaded: true,
        },
      ],
    });
  };
  const controller = (): RolloutController =>
    new RolloutController({
      ...rolloutPorts(store),
      lastReport: (h) => reports.get(h),
      notify: () => undefined,
      hasArtifact: async () => true,
      artifactPath: () => '/nonexistent',
      workDir: '/nonexistent',
      resumeGraceMs: 0,
    });
  const first = controller();
  await first.start();
  const d = await first.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  await first.stop();
  healthy('h1');
  healthy('h2');
  const second = controller();
  await second.start();
  for (const h of ['h1', 'h2']) second.onReport(h);
  const deadline = Date.now() + 10_000;
  while ((await store.getDeployment(d.id))!.status === 'running') {
    assert.ok(Date.now() < deadline, 'it ends');
    await new Promise((r) => setTimeout(r, 10));
    for (const h of ['h1', 'h2']) second.onReport(h);
  }
  const done = (await store.getDeployment(d.id))!;
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(done.hostResults, { h1: 'succeeded', h2: 'succeeded' });
  assert.deepEqual(
    (await store.getDesired('h2')).entries.map((e) => e.version),
    ['aaaaaaaaa'],
  );
  await second.stop();
  await store.close();
});

test("a save's head serialized once (its plan first) is stored as it is and read back as the progress", async () => {
  const store = await openStore('sqlite::memory:');
  const { read, write } = rolloutPorts(store);
  const id = await write.createDeployment(deployment(), (created) => ({
    at,
    actor: 'alice',
    action: 'deploy',
    target: CLUSTER,
    detail: { deployment: created },
  }));
  const p = { ...initialProgress(resolvePolicy(), [['h1'], ['h2']], false, at), phase: 'deploying' as const, batch: 0 };
  const json = headJson(p);
  assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(headOf(p))), 'the same head as serializing it whole');
  assert.equal(headJson({ ...p, paused: true }).startsWith(`{"batches":[["h1"],["h2"]],`), true);
  // the text given is the text written: a head that differs from it shows which one the store kept
  await write.updateDeployment(id, { progress: headOf(p), progressJson: headJson({ ...p, paused: true }) });
  const [running] = await read.runningDeployments();
  assert.equal(running!.progress!.paused, true);
  assert.deepEqual(running!.progress!.batches, [['h1'], ['h2']]);
  await store.close();
});
