/**
 * `ps`, the tree's health and a node's page read the one read model of what runs (src/monitor/):
 * current at once after a report, the same rows the store gets, and the store's rows again after
 * a restart, before any agent reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../api/index.js';
import type { AgentReport, TreeNodeView } from '../../api/index.js';
import { startServer } from '../index.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

const report = (version: string, state = 'up'): AgentReport => ({
  processes: [
    {
      tag: CLUSTER,
      process: 'web',
      version,
      state,
      pid: 10,
      port: 8080,
      restarts: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      error: null,
      health: 'healthy',
    },
    {
      tag: CLUSTER,
      process: 'worker',
      version,
      state: 'up',
      pid: 11,
      port: null,
      restarts: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      error: null,
    },
  ],
  failures: [],
  generation: 0,
});

function find(nodes: TreeNodeView[], tag: string): TreeNodeView | undefined {
  for (const n of nodes) {
    if (n.tag === tag) return n;
    const below = find(n.children, tag);
    if (below) return below;
  }
  return undefined;
}

test('ps, the tree and a node page answer from the read model: current after a report, as stored, and again after a restart', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-views-'));
  let server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  try {
    const adminToken = readFileSync(server.adminTokenFile, 'utf8').trim();
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const agents: Record<string, ApiClient> = {};
    for (const name of ['h1', 'h2', 'h3']) agents[name] = new ApiClient(server.url, (await joiner.join({ name, labels: {} })).token);
    let admin = new ApiClient(server.url, adminToken);
    await admin.setCluster({ tag: CLUSTER, hosts: ['h1', 'h2'] });

    await agents.h1!.report(report('v1'));
    await agents.h2!.report(report('v1', 'backoff'));
    await agents.h3!.report(report('v1'));
    // No flush first: the answer is the model's, current at once.
    const ps = await admin.instances();
    assert.deepEqual(
      ps.map((r) => `${r.host}/${r.process}/${r.version}/${r.state}`),
      ['h1/web/v1/up', 'h1/worker/v1/up', 'h2/web/v1/backoff', 'h2/worker/v1/up', 'h3/web/v1/up', 'h3/worker/v1/up'],
    );
    await server.ctx.reports.flush();
    assert.deepEqual(ps, JSON.parse(JSON.stringify(await server.ctx.store.listInstances())), 'the same JSON as the store holds');

    const node = find((await admin.tree()).roots, CLUSTER)!;
    assert.deepEqual(
      { hosts: node.hosts, hostsDown: node.hostsDown, instances: node.instances, instancesUp: node.instancesUp, health: node.health },
      { hosts: 2, hostsDown: 0, instances: 3, instancesUp: 2, health: 'degraded' },
      "the cluster's hosts are h1 and h2; its instances are every host's that runs its tag (h3's too); h2's is not up",
    );
    const page = await admin.node(CLUSTER);
    assert.deepEqual(page.instances, ps, "the node page lists the same rows as ps (h3's too: it runs the cluster's tag)");
    assert.equal(page.node.instancesUp, 2);

    await agents.h2!.report(report('v1'));
    assert.equal(find((await admin.tree()).roots, CLUSTER)!.health, 'ok', 'the next report shows in the tree at once');

    await admin.removeHost('h3');
    assert.deepEqual([...new Set((await admin.instances()).map((r) => r.host))], ['h1', 'h2'], 'a removed host leaves ps with its rows');

    const before = await admin.instances();
    await server.close();
    server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
    admin = new ApiClient(server.url, adminToken);
    assert.deepEqual(await admin.instances(), before, 'after a restart, before any report: the rows the store kept');
    assert.equal(find((await admin.tree()).roots, CLUSTER)!.instances, 2);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
