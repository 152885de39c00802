import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_TOKEN_TTL_MS, PrincipalCache, REVOCATION_POLL_MS } from './principals.js';

test('agent tokens are remembered for a while and forgotten when the agent joins again', () => {
  const c = new PrincipalCache();
  const h1 = { id: 'x', kind: 'agent' as const, name: 'h1', scope: null, role: null };
  c.set('old', h1, 1000);
  assert.deepEqual(c.get('old', 1000 + AGENT_TOKEN_TTL_MS - 1), h1);
  assert.equal(c.get('old', 1000 + AGENT_TOKEN_TTL_MS), undefined, 'stale: read from the store again');
  c.set('old', h1, 5000);
  c.set('other', { id: 'y', kind: 'agent', name: 'h2', scope: null, role: null }, 5000);
  c.forgetAgent('h1');
  assert.equal(c.get('old', 5001), undefined);
  assert.equal(c.get('other', 5001)?.name, 'h2');
});

test('admin and team tokens stay until the server restarts', () => {
  const c = new PrincipalCache();
  c.set('adm', { id: 'x', kind: 'admin', name: 'admin', scope: null, role: 'admin' }, 0);
  assert.equal(c.get('adm', Number.MAX_SAFE_INTEGER)?.kind, 'admin');
  c.forgetAgent('admin');
  assert.equal(c.get('adm', 1)?.kind, 'admin');
});

test("a real server refuses an agent's old token as soon as the agent joined again", async () => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startServer } = await import('./index.js');
  const { ApiClient } = await import('../api/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'noops-principals-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  try {
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const first = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
    assert.equal((await first.whoami()).name, 'h1', 'the token works, and is now remembered');
    const second = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
    await assert.rejects(first.whoami(), (err: Error & { code?: string }) => err.code === 'NOOPS_E_UNAUTHORIZED');
    assert.equal((await second.whoami()).name, 'h1');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent token revoked on one server is refused by another server on the same database within a second or so', async () => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startServer } = await import('./index.js');
  const { buildApp } = await import('./app.js');
  const { ApiClient } = await import('../api/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'noops-revoke-'));
  const a = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  // A second server on the same database: its own app, its own remembered tokens.
  const b = await buildApp(a.ctx, { console: false });
  try {
    const admin = new ApiClient(a.url, readFileSync(a.adminTokenFile, 'utf8').trim());
    const agentToken = (await new ApiClient(a.url, readFileSync(a.joinTokenFile, 'utf8').trim()).join({ name: 'h1', labels: {} })).token;
    const whoamiOnB = async (): Promise<number> =>
      (await b.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: `Bearer ${agentToken}` } })).statusCode;
    assert.equal(await whoamiOnB(), 200, 'B remembers the token now');
    await new Promise((r) => setTimeout(r, REVOCATION_POLL_MS * 1.5)); // B has read the mark once
    const [row] = (await admin.tokens('agent')).filter((t) => t.name === 'h1');
    await admin.revokeToken(row!.id);
    // A deadline for "never", not for "slow": how soon B notices is REVOCATION_POLL_MS's business,
    // and a loaded machine may delay a poll or two.
    const started = Date.now();
    while ((await whoamiOnB()) === 200) {
      assert.ok(Date.now() - started < REVOCATION_POLL_MS * 30, 'B still accepts the revoked token');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await whoamiOnB(), 401);
  } finally {
    await b.close();
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent forgotten on one server is forgotten on every server of the bus', async () => {
  const { LocalChangeBus } = await import('../bus/index.js');
  const bus = new LocalChangeBus(); // two servers' caches on one bus
  const here = new PrincipalCache(bus);
  const there = new PrincipalCache(bus);
  const stops = [here.watch(async () => 'same'), there.watch(async () => 'same')];
  const h1 = { id: 'x', kind: 'agent' as const, name: 'h1', scope: null, role: null };
  const h2 = { id: 'y', kind: 'agent' as const, name: 'h2', scope: null, role: null };
  there.set('t1', h1, 0);
  there.set('t2', h2, 0);
  here.forgetAgent('h1');
  assert.equal(there.get('t1', 1), undefined, 'told through the bus');
  assert.equal(there.get('t2', 1)?.name, 'h2');
  for (const stop of stops) stop();
  here.forgetAgent('h2');
  assert.equal(there.get('t2', 1)?.name, 'h2', 'a stopped watch no longer hears the bus');
});

test('an agent token that expires is forgotten at its expiry, however long tokens are remembered', () => {
  const c = new PrincipalCache();
  const h1 = { id: 'x', kind: 'agent' as const, name: 'h1', scope: null, role: null };
  c.set('soon', h1, 0, new Date(5000).toISOString());
  assert.deepEqual(c.get('soon', 4999), h1);
  assert.equal(c.get('soon', 5000), undefined, 'expired: read from the store, which refuses it');
  c.set('never', h1, 0, null);
  assert.deepEqual(c.get('never', AGENT_TOKEN_TTL_MS - 1), h1);
});
