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
import { ApiClient } from '../api/client.js';
import { startServer } from './index.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

test('a command queued for a host wakes its agent\'s desired-state poll and is handed over in it, once', { timeout: 30_000 }, async () => {
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
    assert.deepEqual(answer.commands?.map((c) => [c.id, c.action, c.tag]), [[queued.id, 'restart', CLUSTER]]);
    assert.equal((await admin.readCommand(queued.id, 0)).status, 'running', 'handed to the agent');

    // Handed over once: the next poll carries only the command queued after it.
    const next = agent.desired(generation, { commands: true });
    const second = await admin.command({ host: 'h1', action: 'restart', tag: CLUSTER });
    assert.deepEqual((await next).commands?.map((c) => c.id), [second.id]);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
