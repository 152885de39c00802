/**
 * An agent holds one long poll, for its desired state and its commands both: a command queued for
 * its host wakes that poll and arrives in it. (Two polls per agent were 20,000 connections for
 * 10,000 agents, past a server's file limit.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ApiClient } from '../api/index.js';
import { CHANNELS } from '../bus/index.js';
import { startServer } from './index.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

test("a command queued for a host wakes its agent's desired-state poll and is handed over in it, once", { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-agent-poll-'));
  // A long poll far longer than the test's timeout: only a wake-up can answer it in time.
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', longPollMs: 120_000 });
  try {
    const admin = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const agent = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
    await admin.setCluster({ tag: CLUSTER, hosts: ['h1'] });
    const { generation } = await agent.desired(-1, { commands: true });

    const poll = agent.desired(generation, { commands: true });
    const queued = await admin.command({ host: 'h1', action: 'restart', tag: CLUSTER });
    const answer = await poll;
    assert.equal(answer.generation, generation, 'the desired state did not change');
    assert.deepEqual(
      answer.commands?.map((c) => [c.id, c.action, c.tag]),
      [[queued.id, 'restart', CLUSTER]],
    );
    assert.equal((await admin.readCommand(queued.id, 0)).status, 'running', 'handed to the agent');

    // Handed over once: the next poll carries only the command queued after it.
    const next = agent.desired(generation, { commands: true });
    const second = await admin.command({ host: 'h1', action: 'restart', tag: CLUSTER });
    assert.deepEqual(
      (await next).commands?.map((c) => c.id),
      [second.id],
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the desired state an agent polls follows a root grant, a secret, a wake and another server's write", {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-agent-poll-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', longPollMs: 120_000 });
  try {
    const admin = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const token = (await joiner.join({ name: 'h1', labels: {} })).token;
    const agent = new ApiClient(server.url, token);
    const job = CLUSTER.slice(0, CLUSTER.lastIndexOf('_cluster.'));
    const manifest = (version: string): Record<string, unknown> => ({
      schema: 1,
      job,
      version,
      commit: version.padEnd(40, '0'),
      repo: 'r',
      builtAt: '2026-01-01T00:00:00.000Z',
      stack: 'procfile',
      env: {},
      secretEnv: { DB: 'db' },
      processes: [{ name: 'web', command: 'x', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 1 }],
    });
    const packages: Record<string, string> = {};
    for (const v of ['abc1234', 'def5678'])
      packages[v] = (await server.ctx.artifacts.putStream(Readable.from([Buffer.from(`package ${v}`)]))).sha256;
    const entry = (version: string) => ({
      host: 'h1',
      tag: CLUSTER,
      version,
      sha256: packages[version]!,
      manifest: manifest(version),
      deploymentId: null,
      updatedAt: '2026-01-01T00:00:00.000Z',
      kind: 'deploy' as const,
    });
    await admin.setSecret('db', { scope: 'cop.acme', value: 'first' });
    // written straight to the store, as another server on the same database would: no wake here
    await server.ctx.store.setDesired('h1', CLUSTER, entry('abc1234'));
    const first = await agent.desired(-1);
    assert.deepEqual(
      [first.generation, first.instances[0]!.version, first.instances[0]!.allowRoot, first.instances[0]!.secrets],
      [1, 'abc1234', false, { db: 'first' }],
    );

    await admin.allowRoot('cop.acme');
    assert.equal((await agent.desired(-1)).instances[0]!.allowRoot, true, 'the grant is in the next answer');
    await admin.setSecret('db', { scope: 'cop.acme', value: 'second' });
    assert.deepEqual((await agent.desired(-1)).instances[0]!.secrets, { db: 'second' }, 'the secret is in the next answer');

    // a parked poll, woken by a change on this server (the rollout writes, then wakes the hub)
    const parked = agent.desired(1);
    await server.ctx.store.setDesired('h1', CLUSTER, entry('def5678'));
    server.ctx.hub.notify('h1');
    assert.deepEqual([(await parked).generation, (await parked).instances[0]!.version], [2, 'def5678']);
    // another server's write again, and its message on the bus (what its hub's notify sends): no
    // poll of this host was parked here, and the next one reads the new generation (the one kept
    // here is forgotten: desired-view.ts, GENERATION_KEEP_MS)
    await server.ctx.store.setDesired('h1', CLUSTER, entry('abc1234'));
    await server.ctx.bus.publish(CHANNELS.desired, 'h1');
    assert.deepEqual([(await agent.desired(-1)).generation, (await agent.desired(2)).instances[0]!.version], [3, 'abc1234']);

    // the answer is JSON, and the package it names is the agent's to download (mayFetch reads the same view)
    const res = await fetch(`${server.url}/api/v1/agent/desired?after=-1`, { headers: { authorization: `Bearer ${token}` } });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(((await res.json()) as { generation: number }).generation, 3);
    const download = (v: string) =>
      fetch(`${server.url}/api/v1/artifacts/${packages[v]}`, { headers: { authorization: `Bearer ${token}` } });
    const own = await download('abc1234');
    assert.deepEqual([own.status, await own.text()], [200, 'package abc1234']);
    assert.equal((await download('def5678')).status, 404, "def5678 is no longer this host's");
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write whose wake was lost reaches a parked poll when its time is up, though the generation was kept', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-agent-poll-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', longPollMs: 1_500 });
  try {
    const admin = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const agent = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
    await admin.setCluster({ tag: CLUSTER, hosts: ['h1'] });
    const { generation } = await agent.desired(-1); // the view keeps the host's generation now
    assert.equal(await server.ctx.desired.generation('h1'), generation);
    // a write on another server whose message on the bus never came: nothing here forgets it
    await server.ctx.store.setDesired('h1', CLUSTER, null);
    assert.equal(await server.ctx.desired.generation('h1'), generation, 'kept');
    const t0 = Date.now();
    const answer = await agent.desired(generation);
    assert.equal(answer.generation, generation + 1, "the store's, read when the poll's time was up");
    assert.ok(Date.now() - t0 >= 1_400, 'it waited its time: nothing woke it');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
