/**
 * The server on PostgreSQL instead of the embedded SQLite: the same path (join, build, deploy,
 * roll back, restart the server) against a real PostgreSQL server and a fresh database.
 * Runs when NOOPS_TEST_PG_URL is set (CI sets it; scripts/pg-setup.sh prints it).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { DeploymentView, HostView, InstanceView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  getJson,
  killSupervised,
  makeAppRepo,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const CLUSTER = 'cop.acme_owt.data_pdl.store_service.pg_job.api_cluster.prod';
const base = tmp('pg');
const dbName = `noops_e2e_${randomBytes(5).toString('hex')}`;
let server: ServerProc | undefined;
let agent: Proc | undefined;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(join(base, 'agent'));
  if (PG_URL)
    await admin(`drop database if exists ${dbName} with (force)`).catch((err: Error) =>
      process.emitWarning(`could not drop ${dbName}: ${err.message}`),
    );
  cleanup([base]);
});

test('the golden path with the server on PostgreSQL', { skip: PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it' }, async () => {
  await admin(`create database ${dbName}`);
  const url = new URL(PG_URL!);
  url.pathname = `/${dbName}`;
  const port = await freePort();
  const data = join(base, 'server');
  server = await startServer(data, port, ['--db', url.toString()]);
  agent = startAgent(server, join(base, 'agent'), 'pg1');
  await until('the host up', async () => (await cliJson<HostView[]>(server!, ['hosts']))[0]?.status === 'up');

  const repo = join(base, 'repo');
  const app = makeAppRepo(repo);
  const v1 = app.commit('one on pg').slice(0, 9);
  const v2 = app.commit('two on pg').slice(0, 9);
  assert.equal((await cli(server, ['build', '-u', repo, '-t', CLUSTER, '-v', v1])).code, 0);
  assert.equal((await cli(server, ['build', '-u', repo, '-t', CLUSTER, '-v', v2])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'pg1'])).code, 0);
  for (const v of [v1, v2]) {
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  // Restart the server: everything it knows is in PostgreSQL, nothing in its data folder's db.
  await server.stop();
  server = await startServer(data, port, ['--db', url.toString()]);
  const r = await cli(server, ['rollback', '-t', CLUSTER]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const [inst] = await cliJson<InstanceView[]>(server, ['ps']);
  assert.equal((await getJson<{ greeting: string }>(`http://127.0.0.1:${inst!.port}/`)).greeting, 'one on pg');
  const history = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
  assert.deepEqual(
    history.map((h) => [h.version, h.kind, h.status]),
    [
      [v1, 'rollback', 'succeeded'],
      [v2, 'deploy', 'succeeded'],
      [v1, 'deploy', 'succeeded'],
    ],
  );
  const tree = await cli(server, ['tree']);
  assert.match(tree.stdout, /cop\.acme \(1 host\)/);
});
