/**
 * Rollouts across two servers on one PostgreSQL (issue 14): a deploy sent to the server that
 * does not lead the rollout loop is stepped by the one that does; a person's pause through the
 * follower is applied by the leader; the follower's live view (server-sent events) shows the
 * leader's steps; when the leader stops, the other takes the loop and the running deployment
 * over, and goes back when told to abort. Runs when NOOPS_TEST_PG_URL is set (CI sets it).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, type RunningServer } from './index.js';
import { packageOf, TREE, callServer } from './test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-rollout-servers-'));
let db: TestDatabase | undefined;
const servers: RunningServer[] = [];
const streams: AbortController[] = [];

after(async () => {
  for (const s of streams) s.abort();
  for (const s of servers) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON as the test reads it, field by field
type Json = Record<string, any>;

/** Calls a server's API (test-app.ts). */
const call = (server: RunningServer, token: string, method: string, path: string, body?: unknown) =>
  callServer<Json>(server, token, method, path, body);

async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads a server-sent event stream into `text` until it ends or the test aborts it. */
/** A line of a deployment's log as a live view received it, and when (this machine's clock, as the leader's). */
interface Received {
  receivedAt: number;
  at: string;
  message: string;
}

function follow(
  server: RunningServer,
  token: string,
  path: string,
): { text: () => string; ended: () => boolean; logLines: () => Received[] } {
  const stop = new AbortController();
  streams.push(stop);
  let text = '';
  let ended = false;
  const received: Received[] = [];
  void (async () => {
    try {
      const res = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` }, signal: stop.signal });
      const decoder = new TextDecoder();
      for await (const chunk of res.body!) {
        const before = text.length;
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        for (const m of text.slice(Math.max(0, before - 200)).matchAll(/event: log\ndata: (.*)\n/g)) {
          const line = JSON.parse(m[1]!) as { at: string; message: string };
          if (!received.some((r) => r.at === line.at && r.message === line.message)) received.push({ receivedAt: Date.now(), ...line });
        }
      }
    } catch {
      // aborted at the end of the test
    }
    ended = true;
  })();
  return { text: () => text, ended: () => ended, logLines: () => received };
}

test('two servers: the follower takes a deploy and a pause, the leader steps them, the follower shows it live, and takes over when the leader stops', {
  skip: NEEDS_PG,
}, async (t) => {
  db = await testDatabase('noops_rs');
  const url = new URL(db.url);
  const data = join(dir, 'data');
  const start = (id: string) =>
    startServer({
      dataDir: data,
      listen: '127.0.0.1:0',
      db: url.toString(),
      buildSandbox: 'none',
      log: () => {},
      serverId: id,
      leaseMs: 1000,
    });
  const a = await start('srv-a');
  servers.push(a);
  const token = readFileSync(a.adminTokenFile, 'utf8').trim();
  const joinToken = readFileSync(a.joinTokenFile, 'utf8').trim();
  const ok = (r: { status: number; json: unknown }, what: string) =>
    assert.ok(r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.json)}`);
  for (const h of ['h1', 'h2']) ok(await call(a, joinToken, 'POST', '/agent/join', { name: h, labels: {} }), `join ${h}`);
  ok(await call(a, token, 'POST', `/releases/import?tag=${TREE.JOB}`, await packageOf(dir, TREE.JOB, 'aaaaaaaaa')), 'import');
  ok(await call(a, token, 'PUT', '/clusters', { tag: TREE.CLUSTER, hosts: ['h1', 'h2'], yes: true }), 'cluster');
  const b = await start('srv-b');
  servers.push(b);
  assert.equal(a.ctx.leadership.leads('rollout'), true, 'the first server leads');
  assert.equal(b.ctx.leadership.leads('rollout'), false);

  // sent to b, stepped by a: batch 1 (h1) is in h1's desired state, written by a
  const started = await call(b, token, 'POST', '/deployments', { tag: TREE.CLUSTER, version: 'aaaaaaaaa' });
  ok(started, 'deploy through b');
  const id = started.json.id as number;
  await until('a starts batch 1', async () => (await a.ctx.store.getDesired('h1')).entries.some((e) => e.version === 'aaaaaaaaa'));
  assert.ok(a.ctx.rollout.current(id), 'a steps it');
  assert.equal(b.ctx.rollout.current(id), undefined, 'b does not');

  // b's live view, and a pause through b applied by a
  const live = follow(b, token, `/deployments/${id}/events`);
  await until('the first event', () => live.text().includes('event: deployment'));
  const pauseSent = performance.now();
  const paused = await call(b, token, 'POST', `/deployments/${id}/pause`);
  t.diagnostic(`a pause through the follower answered in ${Math.round(performance.now() - pauseSent)} ms`);
  ok(paused, 'pause through b');
  assert.equal(paused.json.progress.paused, true);
  const pauseLine = await until("b's live view shows the pause", () => live.logLines().find((l) => l.message === 'paused by admin'));
  // the leader logged it (its clock, this machine's); the follower's view had it this much later
  t.diagnostic(
    `the pause reached the follower's live view ${pauseLine.receivedAt - Date.parse(pauseLine.at)} ms after the leader logged it`,
  );
  const audit = await call(b, token, 'GET', '/audit?action=deploy.pause');
  assert.ok(JSON.stringify(audit.json).includes(`"deployment":${id}`), `the pause is audited: ${JSON.stringify(audit.json)}`);

  // a stops: b takes the loop and the deployment over within the lease, and steps it from there
  const stopped = performance.now();
  await a.close();
  servers.splice(servers.indexOf(a), 1);
  await until('b leads rollout', () => b.ctx.leadership.leads('rollout'), 10_000);
  await until('b steps the deployment', () => b.ctx.rollout.current(id));
  t.diagnostic(`the follower stepped the deployment ${Math.round(performance.now() - stopped)} ms after the leader began to stop`);
  const listed = await call(b, token, 'GET', '/servers');
  assert.deepEqual(
    listed.json.servers.map((s: Json) => [s.id, s.leads.filter((l: string) => l === 'rollout')]),
    [['srv-b', ['rollout']]],
  );
  ok(await call(b, token, 'POST', `/deployments/${id}/abort`), 'abort through b, now leading');
  // going back: b removes what batch 1 wrote on h1 (no agent runs here, so it waits there for reports)
  await until('b reverts h1', async () => !(await b.ctx.store.getDesired('h1')).entries.some((e) => e.tag === TREE.CLUSTER));
  const now = (await call(b, token, 'GET', `/deployments/${id}`)).json;
  assert.equal(now.progress.phase, 'reverting');
  const log = (now.progress.log as { message: string }[]).map((l) => l.message);
  assert.ok(
    log.some((m) => m.startsWith('server srv-b took the rollout loop over; resuming')),
    log.join('\n'),
  );
  assert.ok(log.includes('abort requested by admin'), log.join('\n'));
  await until("b's live view shows the abort", () => live.logLines().some((l) => l.message === 'abort requested by admin'));
});
