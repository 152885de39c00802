/**
 * The gate, route by route, in-process (`inject`): every route declared, every spelling of every
 * route refused without a token, every route refused to the token kinds its access excludes.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ApiClient } from '../api/index.js';
import { buildApp } from './app.js';
import { declaredRoutes, requireDeclaredAccess } from './gate.js';
import { mayCall, principalOf, type Access } from './auth.js';
import { startServer, type RunningServer } from './index.js';
import { hashToken } from './tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-gate-'));
let server: RunningServer;
let app: FastifyInstance;
const tokens: Record<'admin' | 'join' | 'agent' | 'viewer', string> = { admin: '', join: '', agent: '', viewer: '' };

before(async () => {
  server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  app = await buildApp(server.ctx);
  tokens.admin = readFileSync(server.adminTokenFile, 'utf8').trim();
  tokens.join = readFileSync(server.joinTokenFile, 'utf8').trim();
  tokens.agent = (await new ApiClient(server.url, tokens.join).join({ name: 'g1', labels: {} })).token;
  tokens.viewer = (
    await new ApiClient(server.url, tokens.admin).createToken({ kind: 'team', name: 'v', scope: 'cop.acme_owt.web', role: 'viewer' })
  ).token;
});

after(async () => {
  await app.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A URL for a route pattern, with a value for each parameter. */
function concrete(url: string): string {
  return url
    .replace(/:sha256/g, 'a'.repeat(64))
    .replace(/:tag/g, 'cop.acme')
    .replace(/:name/g, 'g1')
    .replace(/:ref/g, 'x')
    .replace(/:action/g, 'pause')
    .replace(/:id/g, '1')
    .replace(/:file/g, 'preact.js')
    .replace(/\*/g, 'x.js');
}

/** Spellings a lax check might let through: encoded, doubled slashes, dot segments, case, trailing slash. */
function spellings(path: string): string[] {
  const rest = path.replace(/^\/api\/v1/, '');
  return [
    path,
    `/%61pi/v1${rest}`,
    `/api/%76%31${rest}`,
    `//api/v1${rest}`,
    `/api//v1${rest}`,
    `/api/v1/${rest}`,
    `/api/v1/.${rest}`,
    `/api/v1/x/..${rest}`,
    `/API/v1${rest}`,
    `/api/V1${rest}`,
    `${path}/`,
    `${path}%2F`,
    `/api/v1${rest.replace(/\//g, '/./')}`,
  ];
}

test('a route that declares no access stops the app from starting', async () => {
  const bare = Fastify();
  requireDeclaredAccess(bare);
  assert.throws(() => bare.get('/x', async () => 'open'), /route GET \/x declares no access/);
  assert.throws(() => bare.get('/y', { config: { access: 'everyone' as Access } }, async () => 'open'), /declares no access/);
  await bare.close();
});

/** Outside the API, the one route that needs a token: Prometheus' scrape of the server's figures (routes/prometheus.ts). */
const needsToken = (r: { url: string }): boolean => r.url.startsWith('/api/') || r.url === '/metrics';

test("every route declares its access, and only the console's files are public", () => {
  const routes = declaredRoutes(app);
  assert.ok(routes.length > 40, `only ${routes.length} routes`);
  for (const r of routes) {
    if (needsToken(r)) assert.notEqual(r.access, 'public', `${r.method} ${r.url} is public`);
    else assert.equal(r.access, 'public', `${r.method} ${r.url}`);
  }
});

test('no route under the API (nor GET /metrics) answers without a token, in any spelling', async () => {
  for (const r of declaredRoutes(app).filter(needsToken)) {
    for (const url of spellings(concrete(r.url))) {
      const res = await app.inject({ method: r.method as 'GET', url, payload: r.method === 'GET' || r.method === 'HEAD' ? undefined : {} });
      assert.ok(res.statusCode === 401 || res.statusCode === 404, `${r.method} ${url} answered ${res.statusCode} without a token`);
      if (res.statusCode === 404 && r.method !== 'HEAD') assert.equal(res.json().code, 'NOOPS_E_NOT_FOUND', `${r.method} ${url}`);
    }
  }
});

test('each route refuses the token kinds its access excludes, with 403 and the stable code', async () => {
  const rows = await server.ctx.store.listTokens();
  const principal = (secret: string) => principalOf(rows.find((t) => t.hash === hashToken(secret))!);
  for (const r of declaredRoutes(app).filter((x) => x.url.startsWith('/api/') && x.method !== 'HEAD')) {
    for (const kind of ['join', 'agent', 'viewer'] as const) {
      if (mayCall(principal(tokens[kind]), r.access)) continue;
      const res = await app.inject({
        method: r.method as 'GET',
        url: concrete(r.url),
        headers: { authorization: `Bearer ${tokens[kind]}` },
        payload: r.method === 'GET' ? undefined : {},
      });
      assert.equal(res.statusCode, 403, `${kind} token: ${r.method} ${r.url} answered ${res.statusCode}`);
      assert.equal(res.json().code, 'NOOPS_E_FORBIDDEN');
    }
  }
});

test('a parameter given twice or a mistyped one is a 400 with NOOPS_E_INPUT, never a 500', async () => {
  const auth = { authorization: `Bearer ${tokens.admin}` };
  for (const url of [
    '/api/v1/instances?tag=a&tag=b',
    '/api/v1/releases?tag=x&tag=y',
    '/api/v1/hosts?x=1',
    '/api/v1/audit?limit=1&limit=2',
    '/api/v1/events?tga=1',
  ]) {
    const res = await app.inject({ method: 'GET', url, headers: auth });
    assert.equal(res.statusCode, 400, url);
    assert.equal(res.json().code, 'NOOPS_E_INPUT', url);
  }
  const poll = await app.inject({
    method: 'GET',
    url: '/api/v1/agent/desired?after=1&after=2',
    headers: { authorization: `Bearer ${tokens.agent}` },
  });
  assert.equal(poll.statusCode, 400);
});

test('long lists are paged: tokens and clusters answer at most ?limit= rows and say where the next page starts', async () => {
  const auth = { authorization: `Bearer ${tokens.admin}` };
  const all = (await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: auth })).json() as { id: string }[];
  assert.ok(all.length >= 4, `only ${all.length} tokens`);
  const first = await app.inject({ method: 'GET', url: '/api/v1/tokens?limit=2', headers: auth });
  assert.equal((first.json() as unknown[]).length, 2);
  assert.equal(first.headers['x-noops-next'], '2');
  const rest = await app.inject({ method: 'GET', url: `/api/v1/tokens?offset=2&limit=${all.length}`, headers: auth });
  assert.deepEqual(
    [...(first.json() as { id: string }[]), ...(rest.json() as { id: string }[])].map((t) => t.id),
    all.map((t) => t.id),
  );
  assert.equal(rest.headers['x-noops-next'], undefined, 'the last page says nothing more follows');
  // The client follows every page, so its callers see the whole list.
  assert.deepEqual(
    (await new ApiClient(server.url, tokens.admin).tokens()).map((t) => t.id),
    all.map((t) => t.id),
  );
  for (const url of ['/api/v1/clusters?limit=0', '/api/v1/runtimes?offset=-1', '/api/v1/grants/root?limit=x']) {
    assert.equal((await app.inject({ method: 'GET', url, headers: auth })).statusCode, 400, url);
  }
});
