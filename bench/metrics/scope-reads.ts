/**
 * What a team's metric read costs in scope reads (the review of issue 15): the metrics routes
 * scope a host's series by the host's clusters, its scope and its instances. On a fleet of
 * `--hosts` hosts (in `--clusters` clusters, half of them the team's, every host scoped), times
 * `--reads` reads of `GET /api/v1/metrics/series` and `POST /api/v1/push` (one point of a team
 * host) by a team token, in process (`inject`, SQLite), and counts the store's list calls.
 *
 *   node --import tsx bench/metrics/scope-reads.ts [--hosts 1000] [--clusters 100] [--reads 200]
 */
import { parseArgs } from 'node:util';
import { startTestApp, TREE } from '../../src/server/test-app.js';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '1000' },
    clusters: { type: 'string', default: '100' },
    reads: { type: 'string', default: '200' },
  },
});
const hostCount = Number(values.hosts);
const clusterCount = Number(values.clusters);
const reads = Number(values.reads);

const t = await startTestApp();
try {
  const joinedAt = new Date().toISOString();
  const names = Array.from({ length: hostCount }, (_, i) => `host-${i}`);
  for (const name of names) {
    await t.ctx.store.upsertHost({ name, labels: {}, address: null, joinedAt });
    await t.ctx.store.updateHost(name, { scope: TREE.ROOT });
  }
  const perCluster = Math.ceil(hostCount / clusterCount);
  for (let c = 0; c < clusterCount; c++) {
    const job = c % 2 === 0 ? TREE.JOB : TREE.MAIL_JOB;
    await t.ctx.store.putCluster({
      tag: `${job}_cluster.c${c}`,
      hosts: names.slice(c * perCluster, (c + 1) * perCluster),
      policy: {},
      conf: null,
      updatedAt: joinedAt,
    });
  }
  const now = Math.floor(Date.now() / 1000);
  const point = (endpoint: string, value: number) => ({
    endpoint,
    metric: 'bench.load',
    timestamp: now,
    step: 60,
    value,
    counterType: 'GAUGE',
    tags: '',
  });
  const pushed = await t.call(
    t.adminToken,
    'POST',
    '/api/v1/push',
    names.map((n) => point(n, 1)),
  );
  if (pushed.statusCode !== 200) throw new Error(`push: ${pushed.body}`);
  await t.ctx.metrics.ingest.flush();
  const viewer = await t.team(TREE.WEB, 'viewer');
  const deployer = await t.team(TREE.WEB, 'deployer');

  // count the store's full list calls the reads make
  const store = t.ctx.store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const calls = { listHosts: 0, listClusters: 0 };
  for (const name of ['listHosts', 'listClusters'] as const) {
    const original = store[name]!.bind(t.ctx.store);
    store[name] = (...a: unknown[]) => {
      calls[name]++;
      return original(...a);
    };
  }

  const time = async (what: string, call: (i: number) => Promise<{ statusCode: number; body: string }>) => {
    calls.listHosts = calls.listClusters = 0;
    const ms: number[] = [];
    for (let i = 0; i < reads; i++) {
      const started = performance.now();
      const res = await call(i);
      ms.push(performance.now() - started);
      if (res.statusCode !== 200) throw new Error(`${what}: ${res.statusCode} ${res.body}`);
    }
    ms.sort((a, b) => a - b);
    const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
    console.log(
      `${what}: mean ${mean.toFixed(2)} ms, median ${ms[Math.floor(ms.length / 2)]!.toFixed(2)} ms, p95 ${ms[Math.floor(ms.length * 0.95)]!.toFixed(2)} ms; ` +
        `listHosts ${calls.listHosts}, listClusters ${calls.listClusters} for ${reads} calls`,
    );
  };
  console.log(`${hostCount} hosts, ${clusterCount} clusters, ${reads} calls each (team tokens, SQLite, inject)`);
  await time('GET /api/v1/metrics/series', () => t.call(viewer, 'GET', '/api/v1/metrics/series?limit=100'));
  await time('POST /api/v1/push', (i) => t.call(deployer, 'POST', '/api/v1/push', [point('host-0', i + 2)]));
} finally {
  await t.close();
}
