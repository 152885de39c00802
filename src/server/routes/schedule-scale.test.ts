/**
 * `POST /clusters/:tag/scale` called many times at once, on SQLite and on PostgreSQL
 * (NOOPS_TEST_PG_URL), through a real server over HTTP: each scale reads the spec and writes it in
 * one transaction, so none is written over a spec read before another committed. The audit shows
 * it: taken in order, each scale starts from the count the one before it set.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEEDS_PG, testDatabase } from '../../store/test-pg.js';
import { startServer } from '../index.js';
import { callServer, packageOf, TREE } from '../test-app.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-schedule-scale-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((err: Error) => process.emitWarning(`cleanup: ${err.message}`));
  rmSync(dir, { recursive: true, force: true });
});

/** scales sent at once: enough that, read outside their transaction, several read the same count */
const AT_ONCE = 12;

const BACKENDS = [
  { name: 'sqlite', skip: false as const, db: async () => undefined },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    db: async () => {
      const db = await testDatabase('noops_sscale');
      cleanups.push(() => db.drop());
      return db.url;
    },
  },
];

for (const b of BACKENDS) {
  describe(`scale, many at once (${b.name})`, { skip: b.skip }, () => {
    it('each scale starts from the count the one before it set: none is lost', async () => {
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
      const path = `/clusters/${encodeURIComponent(TREE.CLUSTER)}/scale`;
      const answers = await Promise.all(
        Array.from({ length: AT_ONCE }, (_, k) => callServer(server, token, 'POST', path, { count: k + 2 })),
      );
      for (const a of answers) ok(a, 'scale');

      const scales = (await server.ctx.store.listAudit({ action: 'cluster.scale' })).reverse(); // oldest first
      assert.equal(scales.length, AT_ONCE);
      let count = 1;
      for (const s of scales) {
        assert.equal(s.detail.from, count, `scale ${JSON.stringify(s.detail)} after the count was ${count}`);
        count = s.detail.to as number;
      }
      const row = await server.ctx.store.getCluster(TREE.CLUSTER);
      assert.equal(row?.schedule?.count, count, 'the count is the last scale written');
      assert.equal(row?.schedule?.cpu, 1, 'the rest of the spec as it was');
    });
  });
}
