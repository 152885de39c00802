/**
 * A real API in this process for route tests (`*.inject.test.ts`): the server as `startServer`
 * wires it (SQLite store, artifacts and keys in a temp folder), and a second app on the same
 * context that the tests call with `inject()`, so nothing goes through a socket or the CLI.
 * Principals (team tokens, join tokens, agents) and data (clusters, releases) are made through
 * the API itself, so these tests follow the routes, not the internals behind them.
 *
 * Each test names the route it covers (`routeTest('GET /api/v1/hosts', ...)`); the harness
 * checks the route was really called, and `routes.coverage.test.ts` fails on a declared route
 * that no test names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { create } from 'tar';
import { buildApp } from './app.js';
import { declaredRoutes, type DeclaredRoute } from './gate.js';
import { startServer, type RunningServer } from './index.js';
import type { ServerContext } from './context.js';

/** The service tree the tests act on: a team's subtree, a job and a cluster in it, and another team's beside it. */
export const TREE = {
  ROOT: 'cop.acme',
  WEB: 'cop.acme_owt.web',
  JOB: 'cop.acme_owt.web_pdl.shop_service.api_job.web',
  CLUSTER: 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod',
  MAIL: 'cop.acme_owt.mail',
  MAIL_JOB: 'cop.acme_owt.mail_pdl.post_service.smtp_job.relay',
  MAIL_CLUSTER: 'cop.acme_owt.mail_pdl.post_service.smtp_job.relay_cluster.prod',
} as const;

export type Role = 'viewer' | 'deployer' | 'admin';
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** A call's answer: status, headers, the body as text and as JSON. */
export type Answer = LightMyRequestResponse;

export interface TestApp {
  app: FastifyInstance;
  ctx: ServerContext;
  dir: string;
  /** the running server's own address (its listener: for a client over HTTP, as the CLI) */
  url: string;
  /** the server's admin token and its first join token */
  adminToken: string;
  joinToken: string;
  /** `METHOD /url-pattern` of every route called so far (what fastify matched) */
  called: Set<string>;
  /** Calls the API: `token` null sends no Authorization header; a Buffer body goes as a package. */
  call(token: string | null, method: Method, url: string, body?: unknown): Promise<Answer>;
  /** A team token with `role` on `scope` (made by the admin through POST /tokens). */
  team(scope: string, role: Role, name?: string): Promise<string>;
  /** An agent token: a host joined under `name` with the first join token. */
  agent(name: string): Promise<string>;
  /** A limited join token made by the admin. */
  newJoinToken(name: string, uses?: number): Promise<string>;
  /** Imports a package for `job` at `version` (POST /releases/import) and answers the release. */
  release(job: string, version: string): Promise<Answer>;
  /** Sets a cluster's hosts as the admin (PUT /clusters). */
  cluster(tag: string, hosts: string[], policy?: Record<string, unknown>): Promise<Answer>;
  /** An agent's heartbeat with these processes running (POST /agent/report). */
  report(agentToken: string, body: Partial<ReportBody>): Promise<Answer>;
  /**
   * Deploys `version` to `cluster` (whose hosts are `agents`, by name) as the admin and has each
   * agent report it up and healthy until the deployment ends; answers the deployment.
   */
  deploy(cluster: string, version: string, agents: Record<string, string>): Promise<{ id: number; status: string }>;
  /** Has each of `agents` (name to token) report `processes` until deployment `id` ends; answers it. */
  drive(id: number, agents: Record<string, string>, processes: Record<string, unknown>[]): Promise<{ id: number; status: string }>;
  close(): Promise<void>;
}

/** An agent's report body, as the agent sends it. */
export interface ReportBody {
  processes: unknown[];
  failures: unknown[];
  generation: number;
  metrics?: unknown[];
  events?: unknown[];
  crons?: unknown[];
  runtimes?: unknown;
  trust?: unknown;
  capacity?: unknown;
}

let current: TestApp | undefined;
let seq = 0;

/** Every route `app` declares under the API (the console's public files are console.test.ts's). */
export function apiRoutes(app: FastifyInstance): DeclaredRoute[] {
  return declaredRoutes(app).filter((r) => r.url.startsWith('/api/'));
}

/** Starts the server in a temp folder (port 0 on loopback, never called) and an inject-only app on its context. */
export async function startTestApp(
  opts: {
    longPollMs?: number;
    heartbeatMs?: number;
    scheduleDownAfterMs?: number;
    buildSandbox?: 'auto' | 'container' | 'none';
    swarmWholeBelowBytes?: number;
  } = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'noops-inject-'));
  let server: RunningServer;
  try {
    server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', buildSandbox: 'none', log: () => {}, ...opts });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const app = await buildApp(server.ctx, { console: false });
  const called = new Set<string>();
  app.addHook('onResponse', async (req) => {
    if (req.routeOptions.url !== undefined) called.add(`${req.method} ${req.routeOptions.url}`);
  });
  const adminToken = readFileSync(server.adminTokenFile, 'utf8').trim();
  const joinToken = readFileSync(server.joinTokenFile, 'utf8').trim();

  const call: TestApp['call'] = (token, method, url, body) => {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    if (Buffer.isBuffer(body)) headers['content-type'] = 'application/octet-stream';
    return app.inject({ method, url, headers, payload: body === undefined ? undefined : Buffer.isBuffer(body) ? body : (body as object) });
  };
  const ok = (res: Answer, what: string): Answer => {
    assert.ok(res.statusCode < 300, `${what}: ${res.statusCode} ${res.body}`);
    return res;
  };

  const t: TestApp = {
    app,
    ctx: server.ctx,
    dir,
    url: server.url,
    adminToken,
    joinToken,
    called,
    call,
    async team(scope, role, name = `t${++seq}-${role}`) {
      return ok(await call(adminToken, 'POST', '/api/v1/tokens', { kind: 'team', name, scope, role }), 'team token').json().token;
    },
    async agent(name) {
      return ok(await call(joinToken, 'POST', '/api/v1/agent/join', { name, labels: {} }), `join ${name}`).json().token;
    },
    async newJoinToken(name, uses) {
      return ok(await call(adminToken, 'POST', '/api/v1/tokens', { kind: 'join', name, ...(uses && { uses }) }), 'join token').json().token;
    },
    async release(job, version) {
      const res = await call(adminToken, 'POST', `/api/v1/releases/import?tag=${job}`, await packageOf(dir, job, version));
      return ok(res, `import ${job}@${version}`);
    },
    async cluster(tag, hosts, policy) {
      return ok(await call(adminToken, 'PUT', '/api/v1/clusters', { tag, hosts, ...(policy && { policy }), yes: true }), `cluster ${tag}`);
    },
    report(agentToken, body) {
      return call(agentToken, 'POST', '/api/v1/agent/report', { processes: [], failures: [], generation: 0, ...body });
    },
    async deploy(tag, version, agents) {
      const started = ok(await call(adminToken, 'POST', '/api/v1/deployments', { tag, version }), `deploy ${tag}@${version}`).json() as {
        id: number;
      };
      return t.drive(started.id, agents, [upProcess(tag, version)]);
    },
    async drive(id, agents, processes) {
      const url = `/api/v1/deployments/${id}`;
      let last = { id, status: 'running' };
      await until(
        `deployment #${id} to end`,
        async () => {
          for (const token of Object.values(agents)) {
            const { generation } = (await call(token, 'GET', '/api/v1/agent/desired?after=-1')).json() as { generation: number };
            await t.report(token, { processes, generation });
          }
          last = (await call(adminToken, 'GET', url)).json();
          return last.status !== 'running';
        },
        15_000,
        100,
      ); // agents may report 20 times a second
      return last;
    },
    async close() {
      await app.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      current = undefined;
    },
  };
  current = t;
  return t;
}

/** A process as an agent reports it: `web` of `version` up and healthy under `tag`. */
export function upProcess(tag: string, version: string, name = 'web'): Record<string, unknown> {
  const at = new Date().toISOString();
  return {
    tag,
    process: name,
    version,
    state: 'up',
    pid: 100,
    port: 3000,
    restarts: 0,
    startedAt: at,
    error: null,
    health: 'healthy',
    healthySince: at,
  };
}

/** A package by the spec (manifest.json first) for `job` at `version`, as bytes. */
export async function packageOf(dir: string, job: string, version: string): Promise<Buffer> {
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
  ]);
}

/** A tar.gz of `files` (path and content, in this order), as bytes. */
export async function tarOf(dir: string, files: [string, string][]): Promise<Buffer> {
  const src = join(dir, `tar-src-${++seq}`);
  for (const [path, content] of files) {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), content, { mode: 0o755 });
  }
  const file = join(dir, `tar-${seq}.tar.gz`);
  await create(
    { gzip: true, cwd: src, file, portable: true },
    files.map(([p]) => p),
  );
  return readFileSync(file);
}

/**
 * A test of one route, named `METHOD /api/v1/...` as the route is declared: after `fn`, the
 * route must have been called (a test that names a route it never reaches fails).
 * `todo` marks a known fault the test shows (the reason says which), reported, not failing.
 */
export function routeTest(route: string, what: string, fn: (t: TestApp) => Promise<void>, opts: { todo?: string } = {}): void {
  test(`${route}: ${what}`, { ...(opts.todo !== undefined && { todo: opts.todo }) }, async () => {
    const t = current;
    assert.ok(t, 'startTestApp() first (in before())');
    await fn(t);
    assert.ok(t.called.has(route), `the test never called ${route} (called: ${[...t.called].join(', ')})`);
  });
}

/** Asserts an error answer: the status, the stable code, and (for a caller's mistake) a message. */
export function assertError(res: Answer, status: number, code: string, what = ''): void {
  assert.equal(res.statusCode, status, `${what} ${res.statusCode} ${res.body}`);
  const body = res.json() as { code?: string; message?: string };
  assert.equal(body.code, code, `${what} ${res.body}`);
  assert.ok(typeof body.message === 'string' && body.message.length > 0, `${what}: no message`);
}

/** Asserts that a call without a token is 401 and one with an agent's or join token is 403. */
export async function assertPeopleOnly(t: TestApp, method: Method, url: string, body: unknown, agentToken: string): Promise<void> {
  assertError(await t.call(null, method, url, body), 401, 'NOOPS_E_UNAUTHORIZED', `${method} ${url} without a token:`);
  assertError(await t.call(agentToken, method, url, body), 403, 'NOOPS_E_FORBIDDEN', `${method} ${url} with an agent token:`);
  assertError(await t.call(t.joinToken, method, url, body), 403, 'NOOPS_E_FORBIDDEN', `${method} ${url} with a join token:`);
}

/** Waits for `check` to hold, polling every `everyMs`, up to `ms`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the answers field by field
type AnyJson = any;

/**
 * Calls a real server's API over HTTP (the tests of several servers): JSON in (a Buffer goes as
 * octet-stream, for uploads), the status and the JSON body out ({} when empty).
 */
export async function callServer<T = AnyJson>(
  server: { url: string },
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(Buffer.isBuffer(body)
        ? { 'content-type': 'application/octet-stream' }
        : body === undefined
          ? {}
          : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as T };
}
