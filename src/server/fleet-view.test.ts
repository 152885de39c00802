/**
 * One view of the fleet across servers: two real servers (`startServer`, in this process) on one
 * fresh PostgreSQL database and one data folder. An agent reports to B; A's read model (what its
 * rollout steps on) and A's `noops ps` show it within a deadline; a node made through A is
 * resolvable on B at once. Prints the report's cross-server delay (docs/servers.md).
 * Runs when NOOPS_TEST_PG_URL is set (CI sets it; scripts/pg-setup.sh prints it).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentReport } from '../api/index.js';
import { startServer, type RunningServer } from './index.js';
import { TREE, callServer } from './test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-fleet-view-'));
let db: TestDatabase | undefined;
const servers: RunningServer[] = [];
/** How long a report heard by one server may take to show on another: the "within a second". */
const SEEN_WITHIN_MS = 1_000;
/** Reports sent to measure the delay. */
const ROUNDS = 20;

after(async () => {
  for (const s of servers) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A JSON answer, as far as this test reads it (an object, or a list of rows). */
type Answer = { token: string } & { host: string; version: string; name: string; status: string }[];

/** Calls a server's API (test-app.ts). */
const call = (server: RunningServer, token: string, method: string, path: string, body?: unknown) =>
  callServer<Answer>(server, token, method, path, body);

/** Polls `check` until it holds; answers the milliseconds it took, or fails after `withinMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, withinMs: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - start;
}

const reportOf = (version: string): AgentReport => ({
  processes: [{ tag: TREE.CLUSTER, process: 'web', version, state: 'up', pid: 10, port: 8080, restarts: 0, startedAt: null, error: null }],
  failures: [],
  generation: 0,
});

test('a report to B is seen by A (read model, ps) within a second; a node made on A resolves on B at once', {
  skip: NEEDS_PG,
}, async () => {
  db = await testDatabase('noops_view');
  const url = new URL(db.url);
  const data = join(dir, 'data');
  const start = () => startServer({ dataDir: data, listen: '127.0.0.1:0', db: url.toString(), buildSandbox: 'none', log: () => {} });
  const a = await start();
  servers.push(a);
  const b = await start();
  servers.push(b);
  const token = readFileSync(a.adminTokenFile, 'utf8').trim();
  const joined = await call(b, readFileSync(a.joinTokenFile, 'utf8').trim(), 'POST', '/agent/join', { name: 'h1', labels: {} });
  assert.equal(joined.status, 200, JSON.stringify(joined.json));
  const agent = joined.json.token;

  const heardOnA: string[] = [];
  a.ctx.reports.on('report', (h, r) => heardOnA.push(`${h} ${r.processes[0]?.version}`));
  const delays: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const version = `v${i}`;
    const sent = performance.now();
    const posted = await call(b, agent, 'POST', '/agent/report', reportOf(version));
    assert.ok(posted.status < 300, JSON.stringify(posted.json));
    await until(`round ${i}: A's read model`, () => a.ctx.reports.lastReport('h1')?.processes[0]?.version === version, SEEN_WITHIN_MS);
    delays.push(performance.now() - sent);
  }
  assert.ok(heardOnA.includes(`h1 v${ROUNDS - 1}`), 'the report event fires on A (its rollout steps on it)');
  const ps = await call(a, token, 'GET', '/instances');
  assert.deepEqual(
    ps.json.map((r) => [r.host, r.version]),
    [['h1', `v${ROUNDS - 1}`]],
  );
  const hosts = await call(a, token, 'GET', '/hosts');
  assert.equal(hosts.json.find((h) => h.name === 'h1')?.status, 'up', 'B heard it: up on A too');
  delays.sort((x, y) => x - y);
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  console.log(
    `fleet view: a report posted to B is in A's read model after p50 ${ms(delays[Math.floor(ROUNDS / 2)]!)}, max ${ms(delays.at(-1)!)} (${ROUNDS} rounds)`,
  );

  // a server that starts now knows h1's last report at once, from the store
  const c = await start();
  servers.push(c);
  assert.equal(c.ctx.reports.lastReport('h1')?.processes[0]?.version, `v${ROUNDS - 1}`);

  // a node made through A: C (which kept its node set) resolves it at once; B's kept set learns it through the bus
  const put = await call(a, token, 'PUT', '/clusters', { tag: TREE.CLUSTER, hosts: ['h1'], yes: true });
  assert.ok(put.status < 300, JSON.stringify(put.json));
  await until(
    'the prod cluster on B and C',
    async () => (await b.ctx.tags.all()).has(TREE.CLUSTER) && (await c.ctx.tags.all()).has(TREE.CLUSTER),
    SEEN_WITHIN_MS,
  );
  const staging = `${TREE.JOB}_cluster.staging`;
  const made = await call(a, token, 'PUT', '/clusters', { tag: staging, hosts: ['h1'], yes: true });
  assert.ok(made.status < 300, JSON.stringify(made.json));
  const onC = await call(c, token, 'GET', '/instances?tag=cluster.staging');
  assert.equal(onC.status, 200, JSON.stringify(onC.json));
  const told = await until("B's kept node set", async () => (await b.ctx.tags.all()).has(staging), SEEN_WITHIN_MS);
  console.log(`fleet view: a node made on A is in B's node set after ${ms(told)}`);
  const tree = await call(b, token, 'GET', '/tree');
  assert.match(JSON.stringify(tree.json), /cluster\.staging/);
});
