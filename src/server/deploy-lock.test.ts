/**
 * The deploy lock across servers: two real servers (`startServer`, in this process) on one fresh
 * PostgreSQL database, one cluster, two deploys sent to the two at once. The database decides
 * (0011_deploy_lock): one is accepted, the other refused with NOOPS_E_DEPLOY_LOCKED naming it.
 * Runs when NOOPS_TEST_PG_URL is set (CI sets it; scripts/pg-setup.sh prints it).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startServer, type RunningServer } from './index.js';
import { packageOf, TREE, callServer } from './test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-deploy-lock-'));
let db: TestDatabase | undefined;
const servers: RunningServer[] = [];

after(async () => {
  for (const s of servers) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A JSON answer, as far as this test reads it. */
type Answer = { id: number; status: string; version: string; initiator: string; code: string; message: string; token: string };

/** Calls a server's API (test-app.ts). */
const call = (server: RunningServer, token: string, method: string, path: string, body?: unknown) =>
  callServer<Answer>(server, token, method, path, body);

test('two deploys of one cluster sent to two servers at once: one is accepted, the other refused naming it', {
  skip: NEEDS_PG,
}, async () => {
  db = await testDatabase('noops_lock');
  const url = new URL(db.url);
  // one data folder (tokens, signing key, artifacts) and one database: two servers of one
  // deployment; the second starts once the tree, the host and the releases are in the database
  const data = join(dir, 'data');
  const start = () => startServer({ dataDir: data, listen: '127.0.0.1:0', db: url.toString(), buildSandbox: 'none', log: () => {} });
  const a = await start();
  servers.push(a);
  const token = readFileSync(a.adminTokenFile, 'utf8').trim();
  const joinToken = readFileSync(a.joinTokenFile, 'utf8').trim();
  const ok = (r: { status: number; json: unknown }, what: string) =>
    assert.ok(r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.json)}`);
  ok(await call(a, joinToken, 'POST', '/agent/join', { name: 'h1', labels: {} }), 'join h1');
  for (const v of ['aaaaaaaaa', 'bbbbbbbbb'])
    ok(await call(a, token, 'POST', `/releases/import?tag=${TREE.JOB}`, await packageOf(dir, TREE.JOB, v)), `import ${v}`);
  ok(await call(a, token, 'PUT', '/clusters', { tag: TREE.CLUSTER, hosts: ['h1'], yes: true }), 'cluster');
  const b = await start();
  servers.push(b);

  const answers = await Promise.all([
    call(a, token, 'POST', '/deployments', { tag: TREE.CLUSTER, version: 'aaaaaaaaa' }),
    call(b, token, 'POST', '/deployments', { tag: TREE.CLUSTER, version: 'bbbbbbbbb' }),
  ]);
  const accepted = answers.filter((r) => r.status < 300);
  const refused = answers.filter((r) => r.status >= 300);
  assert.equal(accepted.length, 1, JSON.stringify(answers));
  assert.equal(refused.length, 1, JSON.stringify(answers));
  const first = accepted[0]!.json;
  assert.equal(first.status, 'running');
  assert.equal(refused[0]!.status, 409, 'refused, never a 500');
  assert.equal(refused[0]!.json.code, 'NOOPS_E_DEPLOY_LOCKED');
  assert.match(
    refused[0]!.json.message,
    new RegExp(
      `^deployment #${first.id} \\(deploy of ${first.version}, started by ${first.initiator} at .*\\) is running on ${TREE.CLUSTER}$`,
    ),
  );
  // both servers show the one deployment, and the database holds no other
  for (const s of servers) assert.equal((await call(s, token, 'GET', `/deployments/${first.id}`)).json.status, 'running');
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    const { rows } = await c.query('select id, status from deployments where tag = $1', [TREE.CLUSTER]);
    assert.deepEqual(
      rows.map((r) => [Number(r.id), r.status]),
      [[first.id, 'running']],
    );
  } finally {
    await c.end();
  }
});
