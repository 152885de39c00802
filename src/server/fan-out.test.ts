/**
 * Two real servers on one fresh PostgreSQL database (NOOPS_TEST_PG_URL): a desired-state long
 * poll parked on server B is answered when a deploy through server A writes the host's desired
 * state, long before the poll's timeout; a root grant changed on A reaches B's answers; an agent
 * token revoked on A is refused by B at once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredState, JoinResponse, TokenView } from '../api/index.js';
import { CHANNELS } from '../bus/index.js';
import { startServer, type RunningServer } from './index.js';
import { packageOf, TREE, until } from './test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';

const skip = NEEDS_PG;
/** B's long poll: far above what the fan-out may take, so an answer before it is the bus's doing. */
const LONG_POLL_MS = 20_000;
let db: TestDatabase | undefined;
const dir = mkdtempSync(join(tmpdir(), 'noops-fan-out-'));
const servers: RunningServer[] = [];

after(async () => {
  for (const s of servers) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(server: RunningServer, token: string, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let payload: string | Uint8Array | undefined;
  if (Buffer.isBuffer(body)) {
    headers['content-type'] = 'application/octet-stream';
    payload = new Uint8Array(body);
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  return fetch(`${server.url}/api/v1${path}`, { method, headers, body: payload });
}

async function ok<T = unknown>(res: Response | Promise<Response>, what: string): Promise<T> {
  const r = await res;
  const text = await r.text();
  assert.ok(r.status < 300, `${what}: ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

test('two servers on one PostgreSQL: what changes through A reaches B at once', { skip }, async () => {
  db = await testDatabase('noops_bus');
  const url = new URL(db.url);
  const opts = { listen: '127.0.0.1:0', db: url.toString(), buildSandbox: 'none' as const, log: () => {}, longPollMs: LONG_POLL_MS };
  const a = await startServer({ ...opts, dataDir: join(dir, 'a') });
  servers.push(a);
  // the same keys and tokens on B, as an operator copies DATA/ to a second server
  cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true });
  const b = await startServer({ ...opts, dataDir: join(dir, 'b') });
  servers.push(b);
  const adminToken = readFileSync(a.adminTokenFile, 'utf8').trim();
  const joinToken = readFileSync(a.joinTokenFile, 'utf8').trim();

  // an agent joined through A, polling B with the generation it has
  const { token: agent } = await ok<JoinResponse>(call(a, joinToken, 'POST', '/agent/join', { name: 'h1', labels: {} }), 'join');
  const first = await ok<DesiredState>(call(b, agent, 'GET', '/agent/desired?after=-1'), 'first poll');
  const events: string[] = [];
  let notifiedAt = 0;
  let wokenAt = 0;
  a.ctx.hub.listen((h) => {
    if (h !== 'h1' || notifiedAt) return;
    notifiedAt = performance.now();
    events.push('A wrote h1');
  });
  b.ctx.hub.listen((h) => {
    if (h !== 'h1' || wokenAt) return;
    wokenAt = performance.now();
    events.push('B woke h1');
  });
  const started = performance.now();
  const parked = call(b, agent, 'GET', `/agent/desired?after=${first.generation}`).then(async (r) => {
    events.push('B answered');
    return ok<DesiredState>(r, 'parked poll');
  });
  await until('the poll to park on B', () => b.ctx.hub.waiting('h1') === 1);

  // a deploy through A writes h1's desired state
  await ok(call(a, adminToken, 'POST', `/releases/import?tag=${TREE.JOB}`, await packageOf(dir, TREE.JOB, 'abcdef001')), 'import');
  await ok(call(a, adminToken, 'PUT', '/clusters', { tag: TREE.CLUSTER, hosts: ['h1'], yes: true }), 'cluster');
  await ok(call(a, adminToken, 'POST', '/deployments', { tag: TREE.CLUSTER, version: 'abcdef001' }), 'deploy');
  const answer = await parked;
  const elapsed = performance.now() - started;
  assert.deepEqual(events, ['A wrote h1', 'B woke h1', 'B answered']);
  assert.ok(answer.generation > first.generation, `generation ${answer.generation} after ${first.generation}`);
  assert.deepEqual(
    answer.instances.map((i) => `${i.tag}@${i.version}`),
    [`${TREE.CLUSTER}@abcdef001`],
  );
  assert.ok(elapsed < LONG_POLL_MS / 4, `answered after ${elapsed} ms (the poll's timeout is ${LONG_POLL_MS} ms)`);
  process.stdout.write(`# fan-out: A's notify to B's wake ${(wokenAt - notifiedAt).toFixed(1)} ms\n`);

  // a root grant made on A: B's next answer allows root at once (not after its cache's second)
  const before = await ok<DesiredState>(call(b, agent, 'GET', '/agent/desired?after=-1'), 'answer before the grant');
  assert.equal(before.instances[0]!.allowRoot, false);
  let answersHeard = false;
  b.ctx.bus.subscribe(CHANNELS.answers, { change: () => (answersHeard = true), resync: () => {} });
  await ok(call(a, adminToken, 'PUT', '/grants/root', { scope: TREE.JOB }), 'root grant');
  await until('B to hear of the grant', () => answersHeard);
  const granted = await ok<DesiredState>(call(b, agent, 'GET', '/agent/desired?after=-1'), 'answer after the grant');
  assert.equal(granted.instances[0]!.allowRoot, true);

  // the agent's token revoked on A: B refuses it as soon as the bus brings it (not after 30 s)
  const tokens = await ok<TokenView[]>(call(a, adminToken, 'GET', '/tokens'), 'tokens');
  const row = tokens.find((t) => t.kind === 'agent' && t.name === 'h1');
  await ok(call(b, agent, 'POST', '/agent/report', { processes: [], failures: [], generation: 0 }), 'report before the revoke');
  let revokedHeard = false;
  b.ctx.bus.subscribe(CHANNELS.agentTokens, { change: (name) => (revokedHeard ||= name === 'h1'), resync: () => {} });
  await ok(call(a, adminToken, 'DELETE', `/tokens/${row!.id}`), 'revoke');
  await until('B to hear of the revoke', () => revokedHeard);
  const refused = await call(b, agent, 'POST', '/agent/report', { processes: [], failures: [], generation: 0 });
  assert.equal(refused.status, 401, await refused.text());
});
