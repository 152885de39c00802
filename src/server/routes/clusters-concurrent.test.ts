/**
 * `PUT /clusters` (`noops cluster set`) called many times at once, beside `POST .../scale`, on
 * SQLite and on PostgreSQL (NOOPS_TEST_PG_URL), through a real server over HTTP: each write reads
 * the cluster and writes it in one transaction with its row locked, so none is written over a
 * cluster read before another committed. The audit shows it: taken in order, each `cluster.set`
 * holds every policy key set before it plus its own, and the count the last scale before it set.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEEDS_PG, testDatabase } from '../../store/test-pg.js';
import { startServer } from '../index.js';
import { callServer, packageOf, TREE } from '../test-app.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-cluster-set-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((err: Error) => process.emitWarning(`cleanup: ${err.message}`));
  rmSync(dir, { recursive: true, force: true });
});

/** One policy key per `cluster set` sent at once: read outside their transaction, several would keep only their own. */
const KEYS: Record<string, string | number | boolean> = {
  pause: '1s',
  healthy_for: '2s',
  timeout: '3m',
  test_timeout: '4m',
  drain_timeout: '5s',
  canary_wait: '6m',
  max_failures: 7,
  on_failure: 'stop',
};
/** scales sent beside them */
const SCALES = 8;

const BACKENDS = [
  { name: 'sqlite', skip: false as const, db: async () => undefined },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    db: async () => {
      const db = await testDatabase('noops_cset');
      cleanups.push(() => db.drop());
      return db.url;
    },
  },
];

for (const b of BACKENDS) {
  describe(`cluster set, many at once (${b.name})`, { skip: b.skip }, () => {
    it('each set keeps what the ones before it wrote, and the count the scales set: none is lost', async () => {
      const server = await startServer({
        dataDir: join(dir, b.name),
        listen: '127.0.0.1:0',
        db: await b.db(),
        buildSandbox: 'none',
        log: () => {},
      });
      cleanups.push(() => server.close());
      const token = readFileSync(server.adminTokenFile, 'utf8').trim();
      const ok = (r: { status: number; json: unknown }, what: string) =>
        assert.ok(r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.json)}`);
      ok(
        await callServer(server, token, 'POST', `/releases/import?tag=${TREE.JOB}`, await packageOf(dir, TREE.JOB, 'aaaaaaaaa')),
        'import',
      );
      ok(
        await callServer(server, token, 'PUT', '/clusters', { tag: TREE.CLUSTER, schedule: { count: 1, cpu: 1, memory: '256M' } }),
        'cluster',
      );
      const scale = `/clusters/${encodeURIComponent(TREE.CLUSTER)}/scale`;
      const answers = await Promise.all([
        ...Object.entries(KEYS).map(([k, v]) => callServer(server, token, 'PUT', '/clusters', { tag: TREE.CLUSTER, policy: { [k]: v } })),
        ...Array.from({ length: SCALES }, (_, k) => callServer(server, token, 'POST', scale, { count: k + 2 })),
      ]);
      for (const a of answers) ok(a, 'set or scale');

      // the audit, oldest first, without the cluster's creation
      const entries = (await server.ctx.store.listAudit({ limit: 1000 }))
        .filter((e) => e.target === TREE.CLUSTER && (e.action === 'cluster.set' || e.action === 'cluster.scale'))
        .reverse()
        .slice(1);
      assert.equal(entries.length, Object.keys(KEYS).length + SCALES);
      let count = 1;
      const keys = new Set<string>();
      for (const e of entries) {
        const d = e.detail as { from?: number; to?: number; policy?: Record<string, unknown>; schedule?: { count: number } };
        if (e.action === 'cluster.scale') {
          assert.equal(d.from, count, `scale ${JSON.stringify(d)} after the count was ${count}`);
          count = d.to!;
          continue;
        }
        const own = Object.keys(d.policy!).filter((k) => !keys.has(k));
        assert.equal(own.length, 1, `set ${JSON.stringify(d.policy)} after ${[...keys].join(',')}: every key before it and its own`);
        assert.equal(Object.keys(d.policy!).length, keys.size + 1, `set ${JSON.stringify(d.policy)} after ${[...keys].join(',')}`);
        keys.add(own[0]!);
        assert.equal(d.schedule?.count, count, `set ${JSON.stringify(d)} after the count was ${count}`);
      }
      const row = await server.ctx.store.getCluster(TREE.CLUSTER);
      assert.deepEqual(Object.keys(row!.policy).sort(), Object.keys(KEYS).sort(), 'every key set is kept');
      assert.equal(row?.schedule?.count, count, 'the count is the last scale written');
    });
  });
}
