/**
 * Packages on every server (issue 14): two real servers (`startServer`, in this process) on one
 * fresh PostgreSQL database, each with its own data folder (the signing and secret keys copied
 * from A's, as an operator does). A release imported through A is downloaded through B byte for
 * byte, B's deploy finds its package, and B's fetch of a 10 MB package on a miss is timed; a runtime added through A installs on B.
 * Runs when NOOPS_TEST_PG_URL is set; the SQLite case (one server, no blob rows) always runs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { startServer, type RunningServer } from './index.js';
import { packageOf, tarOf, TREE } from './test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-packages-everywhere-'));
let db: TestDatabase | undefined;
const servers: RunningServer[] = [];

after(async () => {
  for (const s of servers) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Calls a server's API with a token; a Buffer body is sent as a package. */
async function call(server: RunningServer, token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json' }),
    },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
  });
}

/** Answers the JSON of a call that must succeed. */
async function ok<T = { sha256: string; status: string }>(res: Promise<Response>, what: string): Promise<T> {
  const r = await res;
  const text = await r.text();
  assert.ok(r.status < 300, `${what}: ${r.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** A package of `job` at `version` about `bytes` long: base64 of random bytes, which gzip keeps at 3/4. */
async function bigPackage(job: string, version: string, bytes: number): Promise<Buffer> {
  const manifest = {
    schema: 1,
    job,
    version,
    commit: version.padEnd(40, '0'),
    repo: 'https://git.example.com/x.git',
    builtAt: new Date().toISOString(),
    stack: 'procfile',
    env: {},
    processes: [{ name: 'web', command: 'node server.js', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 1 }],
  };
  return tarOf(dir, [
    ['manifest.json', JSON.stringify(manifest)],
    ['server.js', ''],
    ['data.txt', randomBytes(bytes).toString('base64')],
  ]);
}

test('a package imported through server A is served by server B (its own data folder), and B deploys it', {
  skip: NEEDS_PG,
}, async (t) => {
  const made = await testDatabase('noops_blobs');
  db = made;
  const url = new URL(made.url);
  const start = (data: string) =>
    startServer({ dataDir: data, listen: '127.0.0.1:0', db: url.toString(), buildSandbox: 'none', log: () => {} });
  const dataA = join(dir, 'a');
  const dataB = join(dir, 'b');
  const a = await start(dataA);
  servers.push(a);
  // what B must be given: the release signing key (openSigner refuses another) and the secret key
  mkdirSync(dataB, { recursive: true, mode: 0o700 });
  for (const key of ['signing.key', 'secret.key']) {
    try {
      copyFileSync(join(dataA, key), join(dataB, key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // secret.key is made on first use
    }
  }
  const b = await start(dataB);
  servers.push(b);
  const token = readFileSync(a.adminTokenFile, 'utf8').trim();
  const joinToken = readFileSync(a.joinTokenFile, 'utf8').trim();

  // a small package, imported through A, downloaded through B: a miss there, fetched from the database
  const small = await packageOf(dir, TREE.JOB, 'aaaaaaaaa');
  const imported = await ok(call(a, token, 'POST', `/releases/import?tag=${TREE.JOB}`, small), 'import through A');
  assert.equal(imported.sha256, sha(small));
  assert.equal(await b.ctx.artifacts.hasHere(imported.sha256), false, "B's folder does not have it yet");
  const got = Buffer.from(await (await call(b, token, 'GET', `/artifacts/${imported.sha256}`)).arrayBuffer());
  assert.equal(sha(got), imported.sha256);
  assert.deepEqual(got, small);
  assert.equal(await b.ctx.artifacts.hasHere(imported.sha256), true, "kept in B's own folder");

  // a 10 MB package: the time B takes to fetch it from the database on a miss
  const big = await bigPackage(TREE.JOB, 'bbbbbbbbb', 10 * 1024 * 1024);
  const importStart = performance.now();
  const bigSha = (await ok(call(a, token, 'POST', `/releases/import?tag=${TREE.JOB}`, big), 'import 10 MB through A')).sha256;
  const importMs = performance.now() - importStart;
  const t0 = performance.now();
  assert.equal(await b.ctx.artifacts.has(bigSha), true);
  const fetchMs = performance.now() - t0;
  const served = Buffer.from(await (await call(b, token, 'GET', `/artifacts/${bigSha}`)).arrayBuffer());
  assert.equal(sha(served), bigSha);
  t.diagnostic(
    `a ${(big.length / 1024 / 1024).toFixed(1)} MiB package: imported through A (stored and shared) in ${importMs.toFixed(0)} ms; B fetched it from the database on a miss in ${fetchMs.toFixed(0)} ms`,
  );

  // B's rollout finds a package only A stored: the deploy is accepted (hasArtifact fetched it)
  const third = await packageOf(dir, TREE.JOB, 'ccccccccc');
  const thirdSha = (await ok(call(a, token, 'POST', `/releases/import?tag=${TREE.JOB}`, third), 'import through A')).sha256;
  await ok(call(a, joinToken, 'POST', '/agent/join', { name: 'h1', labels: {} }), 'join h1');
  await ok(call(a, token, 'PUT', '/clusters', { tag: TREE.CLUSTER, hosts: ['h1'], yes: true }), 'cluster');
  assert.equal(await b.ctx.artifacts.hasHere(thirdSha), false);
  const deployment = await ok(call(b, token, 'POST', '/deployments', { tag: TREE.CLUSTER, version: 'ccccccccc' }), 'deploy through B');
  assert.equal(deployment.status, 'running');
  assert.equal(await b.ctx.artifacts.hasHere(thirdSha), true, "the rollout on B fetched the package into B's folder");
  assert.equal(await b.ctx.artifacts.verify(thirdSha), true);

  // a runtime added through A is installed for builds on B (its tarball fetched from the database)
  const tarball = await tarOf(dir, [['bin/tool', '#!/bin/sh\necho tool\n']]);
  const runtime = await ok(call(a, token, 'POST', '/runtimes?name=tool&version=1.0.0', tarball), 'runtime add through A');
  assert.equal(runtime.sha256, sha(tarball));
  assert.equal(await b.ctx.artifacts.hasHere(runtime.sha256), false);
  const installed = await b.ctx.runtimes.install('tool', '1.0.0');
  assert.equal(installed.sha256, runtime.sha256);
  assert.equal(readFileSync(join(installed.dir, 'bin', 'tool'), 'utf8'), '#!/bin/sh\necho tool\n');
});

test('one server on SQLite keeps its packages in its data folder alone: no rows in the package tables', async () => {
  const data = join(dir, 'sqlite');
  const s = await startServer({ dataDir: data, listen: '127.0.0.1:0', buildSandbox: 'none', log: () => {} });
  servers.push(s);
  const token = readFileSync(s.adminTokenFile, 'utf8').trim();
  const small = await packageOf(dir, TREE.JOB, 'ddddddddd');
  const { sha256 } = await ok(call(s, token, 'POST', `/releases/import?tag=${TREE.JOB}`, small), 'import');
  assert.deepEqual(Buffer.from(await (await call(s, token, 'GET', `/artifacts/${sha256}`)).arrayBuffer()), small);
  const db = new BetterSqlite3(join(data, 'noops.db'), { readonly: true });
  try {
    assert.deepEqual(
      db.prepare('select (select count(*) from package_blobs) as heads, (select count(*) from package_blob_chunks) as chunks').get(),
      {
        heads: 0,
        chunks: 0,
      },
    );
  } finally {
    db.close();
  }
});
