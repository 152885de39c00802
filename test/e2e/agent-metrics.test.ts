/**
 * The agent's metrics through a real server (in this process): with `--metrics-every 1s` its
 * reports carry the host's points and each instance's common.service* (a simulated host runs a
 * deployed release), a point pushed to its Falcon push API leaves in the next report, and no
 * point is reported twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Agent } from '../../src/agent/index.js';
import { ApiClient, type MetricSample } from '../../src/api/index.js';
import { startServer } from '../../src/server/index.js';
import { packageOf } from '../../src/server/test-app.js';
import { MemoryReleases } from '../../bench/fleet/sim-releases.js';
import { SimSupervisor } from '../../bench/fleet/sim-supervisor.js';
import { until } from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const CLUSTER = `${JOB}_cluster.prod`;

test('reports carry host and instance points every second, pushed points too, each once', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-agent-metrics-'));
  const server = await startServer({ dataDir: join(dir, 'server'), listen: '127.0.0.1:0', heartbeatMs: 500 });
  const points: MetricSample[] = [];
  const agent = new Agent({
    server: server.url,
    joinToken: readFileSync(server.joinTokenFile, 'utf8').trim(),
    root: join(dir, 'agent'),
    name: 'h1',
    labels: {},
    ctl: false,
    log: () => {},
    host: { supervisor: new SimSupervisor(), releases: new MemoryReleases() },
    hostMetrics: true,
    metricsEveryMs: 1000,
    pushListen: '127.0.0.1:0',
    observer: { reported: (r) => points.push(...(r.metrics ?? [])) },
  });
  try {
    await agent.start();
    const api = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const release = await api.importRelease(JOB, Readable.from([await packageOf(dir, JOB, 'abc123456')]));
    await api.setCluster({ tag: CLUSTER, hosts: ['h1'] });
    await api.deploy({ tag: CLUSTER, version: release.version });

    const tags = 'cop=acme,owt=web,pdl=shop,service=api,job=web,cluster=prod,process=web';
    const running = () => points.filter((p) => p.metric === 'common.servicerunning' && p.tags === tags && p.value === 1);
    await until('the instance reported running in two collections', async () => running().length >= 2, 60_000);
    await until('cpu.idle (from the second collection on)', async () => points.some((p) => p.metric === 'cpu.idle'), 10_000);

    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify([
      { endpoint: 'h1', metric: 'queue.len', timestamp: now, step: 60, value: 42, counterType: 'GAUGE', tags: 'q=jobs' },
    ]);
    const res = await fetch(`http://${agent.metrics!.pushAddress}/v1/push`, { method: 'POST', body });
    assert.equal(await res.text(), 'success');
    await until('the pushed point in a report', async () => points.some((p) => p.metric === 'queue.len'), 10_000);

    for (const m of ['common.servicerestarts', 'common.serviceuptime', 'common.servicerss', 'common.servicecpu'])
      assert.ok(
        points.some((p) => p.metric === m && p.tags === tags),
        m,
      );
    for (const m of ['agent.alive', 'mem.memfree.percent', 'load.1min', 'cpu.busy'])
      assert.ok(
        points.some((p) => p.metric === m && p.tags === '' && p.step === 1),
        m,
      );
    assert.ok(points.some((p) => p.metric === 'df.bytes.free.percent' && p.tags.startsWith('mount=')));
    assert.ok(points.every((p) => p.endpoint === 'h1'));
    const alive = points.filter((p) => p.metric === 'agent.alive').map((p) => p.timestamp);
    assert.equal(new Set(alive).size, alive.length, 'one collection a second: one agent.alive per second');
    const keys = points.map((p) => `${p.metric}|${p.tags}|${p.timestamp}`);
    assert.equal(new Set(keys).size, keys.length, 'no point reported twice');
    assert.equal(points.find((p) => p.metric === 'queue.len')?.tags, 'q=jobs');
    // GET /metrics shows each series' latest point, though the last report may carry none; the
    // server stores tags as Falcon does, sorted by key
    const shown = await api.metrics({ host: 'h1', metric: 'common.servicerunning' });
    assert.deepEqual(
      shown.map((m) => m.tags),
      ['cluster=prod,cop=acme,job=web,owt=web,pdl=shop,process=web,service=api'],
    );
  } finally {
    await agent.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
