/**
 * Access end to end, tried as an attacker would: a real server, two real agents, two teams.
 * Each attack must fail with a clear 4xx and change nothing; each refusal is audited.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AuditView, ClusterView, HostView, ReleaseView, TokenView, TreeView, WhoamiView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  makeAppRepo,
  startAgent,
  startServer,
  tmp,
  until,
  killSupervised,
  type Proc,
  type ServerProc,
} from './harness.js';

const WEB = 'cop.acme_owt.web';
const SHOP = 'cop.acme_owt.shop';
const WEB_JOB = `${WEB}_pdl.site_service.front_job.http`;
const SHOP_JOB = `${SHOP}_pdl.cart_service.api_job.http`;
const WEB_CLUSTER = `${WEB_JOB}_cluster.prod`;
const SHOP_CLUSTER = `${SHOP_JOB}_cluster.prod`;

const base = tmp('access');
const data = join(base, 'server');
const roots = { h1: join(base, 'agent-h1'), h2: join(base, 'agent-h2') };
let server: ServerProc;
const agents: Proc[] = [];
let webToken = '';
let shopToken = '';
let viewerToken = '';
let webVersion = '';
let shopSha = '';
let buildOfShop = 0;

/** A raw API call with an optional token: what curl would do. */
// biome-ignore lint/suspicious/noExplicitAny: answers of every route, read field by field in assertions
async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

async function teamToken(name: string, scope: string, role: string): Promise<string> {
  const [t] = await cliJson<{ token: string }[]>(server, ['token', 'create', '--name', name, '--scope', scope, '--role', role]);
  return t!.token;
}

before(async () => {
  server = await startServer(data, await freePort());
  agents.push(startAgent(server, roots.h1, 'h1'), startAgent(server, roots.h2, 'h2'));
  await until('hosts up', async () => (await cliJson<HostView[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2);
  const web = makeAppRepo(join(base, 'web'));
  const shop = makeAppRepo(join(base, 'shop'));
  const cw = web.commit('web');
  const cs = shop.commit('shop');
  webVersion = cw.slice(0, 9);
  for (const [repo, job, commit] of [
    [join(base, 'web'), WEB_JOB, cw],
    [join(base, 'shop'), SHOP_JOB, cs],
  ] as const) {
    const r = await cli(server, ['build', '-u', repo, '-t', job, '-v', commit]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await cli(server, ['cluster', 'set', '-t', WEB_CLUSTER, '--hosts', 'h1'])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', SHOP_CLUSTER, '--hosts', 'h2'])).code, 0);
  for (const [c, v] of [
    [WEB_CLUSTER, webVersion],
    [SHOP_CLUSTER, cs.slice(0, 9)],
  ] as const) {
    const r = await cli(server, ['deploy', '-t', c, '-v', v]);
    assert.equal(r.code, 0, r.stderr);
  }
  webToken = await teamToken('web', WEB, 'deployer');
  shopToken = await teamToken('shop', SHOP, 'deployer');
  viewerToken = await teamToken('web-viewer', WEB, 'viewer');
  const releases = await cliJson<ReleaseView[]>(server, ['releases']);
  shopSha = releases.find((r) => r.job === SHOP_JOB)!.sha256;
  buildOfShop = releases.find((r) => r.job === SHOP_JOB)!.buildId!;
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  Object.values(roots).forEach(killSupervised);
  cleanup([base]);
});

test('no spelling of an API path gets past the gate without a token', async () => {
  const paths = ['/hosts', '/audit', `/builds/${buildOfShop}`, '/releases', `/artifacts/${shopSha}`, '/tokens', '/tree'];
  const spellings = (p: string): string[] => [
    `/api/v1${p}`,
    `/%61pi/v1${p}`,
    `/api/%761${p}`,
    `//api/v1${p}`,
    `/api//v1${p}`,
    `/api/v1/${p.slice(1)}/`,
    `/api/v1/./${p.slice(1)}`,
    `/api/v1/x/..${p}`,
    `/API/v1${p}`,
    `/Api/V1${p}`,
    `/api/v1${p}%2f`,
    `/api/v1${p.replace('/', '/%2e/')}`,
    `/api/v1${p}?`,
  ];
  for (const p of paths) {
    for (const url of spellings(p)) {
      const r = await call('GET', url);
      assert.ok(r.status === 401 || r.status === 404, `${url} answered ${r.status} without a token`);
      if (r.status === 404) assert.equal(r.json.code, 'NOOPS_E_NOT_FOUND', url);
    }
  }
  for (const url of ['/api/v1/agent/join', '/%61pi/v1/agent/join', '/api/v1/agent/join/']) {
    const r = await call('POST', url, undefined, { name: 'h1' });
    assert.ok(r.status === 401 || r.status === 404, `${url} answered ${r.status}`);
  }
  // With a token, the encoded spelling reaches the same route and meets the same declaration.
  const viaEncoded = await call('GET', '/%61pi/v1/tokens', viewerToken);
  assert.equal(viaEncoded.status, 403);
});

test("a team cannot put another team's (or an unassigned) host in its cluster; once assigned, it can", async () => {
  const denied = await cli(server, ['cluster', 'set', '-t', `${WEB_JOB}_cluster.grab`, '--hosts', 'h2'], {
    env: { NOOPS_TOKEN: webToken },
  });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /NOOPS_E_FORBIDDEN/);
  assert.match(denied.stderr, /h2 is not in cop\.acme_owt\.web's part of the tree/);
  assert.ok(!(await cliJson<ClusterView[]>(server, ['cluster', 'ls'])).some((c) => c.tag.endsWith('cluster.grab')), 'nothing was created');

  // Only the admin assigns hosts.
  const teamAssign = await cli(server, ['host', 'assign', 'h2', '--scope', WEB], { env: { NOOPS_TOKEN: webToken } });
  assert.match(teamAssign.stderr, /NOOPS_E_FORBIDDEN/);
  assert.equal((await cli(server, ['host', 'assign', 'h2', '--scope', SHOP])).code, 0);
  const again = await cli(server, ['cluster', 'set', '-t', `${WEB_JOB}_cluster.grab`, '--hosts', 'h2'], { env: { NOOPS_TOKEN: webToken } });
  assert.match(again.stderr, /belongs to cop\.acme_owt\.shop/);
  const shopOwn = await cli(server, ['cluster', 'set', '-t', `${SHOP_JOB}_cluster.canary`, '--hosts', 'h2'], {
    env: { NOOPS_TOKEN: shopToken },
  });
  assert.equal(shopOwn.code, 0, shopOwn.stderr);
  const hosts = await cliJson<HostView[]>(server, ['hosts']);
  assert.equal(hosts.find((h) => h.name === 'h2')!.scope, SHOP);
});

test("reads are scoped: a team sees its own part of the tree, builds, releases, hosts, audit; another team's objects are not found", async () => {
  const releases = (await call('GET', '/api/v1/releases', webToken)).json as ReleaseView[];
  assert.deepEqual([...new Set(releases.map((r) => r.job))], [WEB_JOB]);
  const otherBuild = await call('GET', `/api/v1/builds/${buildOfShop}`, webToken);
  assert.equal(otherBuild.status, 404);
  assert.equal((await call('GET', `/api/v1/builds/${buildOfShop}`, shopToken)).status, 200);
  const tree = (await call('GET', '/api/v1/tree', webToken)).json as TreeView;
  assert.doesNotMatch(tree.text, /shop/);
  assert.match(tree.text, /web/);
  const clusters = (await call('GET', '/api/v1/clusters', webToken)).json as ClusterView[];
  assert.deepEqual(
    clusters.map((c) => c.tag),
    [WEB_CLUSTER],
  );
  const hosts = (await call('GET', '/api/v1/hosts', webToken)).json as HostView[];
  assert.deepEqual(
    hosts.map((h) => h.name),
    ['h1'],
  );
  const node = await call('GET', `/api/v1/nodes/${SHOP_CLUSTER}`, webToken);
  assert.equal(node.status, 404);
  const instances = (await call('GET', '/api/v1/instances', webToken)).json as { tag: string }[];
  assert.ok(instances.length > 0 && instances.every((i) => i.tag.startsWith(WEB)));
  const audit = (await call('GET', '/api/v1/audit', webToken)).json as AuditView[];
  assert.ok(audit.length > 0 && audit.every((a) => a.target.startsWith(WEB)), JSON.stringify(audit.map((a) => a.target)));
  const history = await call('GET', `/api/v1/history?tag=${SHOP_CLUSTER}`, webToken);
  assert.equal(history.status, 403);
  // A package: only to a person who may see its job.
  assert.equal((await call('GET', `/api/v1/artifacts/${shopSha}`, webToken)).status, 404);
  assert.equal((await call('GET', `/api/v1/artifacts/${shopSha}`, shopToken)).status, 200);
});

test("roles: a viewer reads but cannot deploy, build or make tokens; a team's admin makes tokens only under its scope", async () => {
  const who = (await call('GET', '/api/v1/whoami', viewerToken)).json as WhoamiView;
  assert.deepEqual({ ...who, id: '' }, { id: '', kind: 'team', name: 'web-viewer', scope: WEB, role: 'viewer' });
  assert.equal((await call('GET', '/api/v1/releases', viewerToken)).status, 200);
  const deploy = await cli(server, ['deploy', '-t', WEB_CLUSTER, '-v', webVersion], { env: { NOOPS_TOKEN: viewerToken } });
  assert.match(deploy.stderr, /NOOPS_E_FORBIDDEN/);
  const restart = await call('POST', '/api/v1/commands', viewerToken, { host: 'h1', action: 'restart', tag: WEB_CLUSTER });
  assert.equal(restart.status, 403);
  assert.equal(
    (await call('POST', '/api/v1/tokens', webToken, { name: 'x', scope: WEB, role: 'viewer' })).status,
    403,
    'a deployer makes no tokens',
  );

  const webAdmin = await teamToken('web-admin', WEB, 'admin');
  const own = await call('POST', '/api/v1/tokens', webAdmin, { kind: 'team', name: 'web-ci', scope: `${WEB}_pdl.site`, role: 'deployer' });
  assert.equal(own.status, 201, JSON.stringify(own.json));
  const above = await call('POST', '/api/v1/tokens', webAdmin, { kind: 'team', name: 'grab', scope: 'cop.acme', role: 'admin' });
  assert.equal(above.status, 403);
  const join = await call('POST', '/api/v1/tokens', webAdmin, { kind: 'join', name: 'j' });
  assert.equal(join.status, 403);
  const listed = (await call('GET', '/api/v1/tokens', webAdmin)).json as TokenView[];
  assert.ok(
    listed.every((t) => t.kind === 'team' && t.scope!.startsWith(WEB)),
    JSON.stringify(listed),
  );
  assert.ok(!JSON.stringify(listed).includes('noops_team_'), 'no secret is listed');
});

test('a revoked token is refused at once; an expired one too', async () => {
  const [t] = await cliJson<{ token: string; id: string }[]>(server, [
    'token',
    'create',
    '--name',
    'temp',
    '--scope',
    WEB,
    '--role',
    'viewer',
  ]);
  assert.equal((await call('GET', '/api/v1/whoami', t!.token)).status, 200);
  const ls = await cliJson<TokenView[]>(server, ['token', 'ls']);
  assert.ok(ls.some((x) => x.id === t!.id && x.name === 'temp'));
  const r = await cli(server, ['token', 'revoke', t!.id]);
  assert.equal(r.code, 0, r.stderr);
  const after = await call('GET', '/api/v1/whoami', t!.token);
  assert.equal(after.status, 401);
  assert.equal(after.json.code, 'NOOPS_E_UNAUTHORIZED');

  const expiring = await call('POST', '/api/v1/tokens', server.adminToken, {
    kind: 'team',
    name: 'short',
    scope: WEB,
    role: 'viewer',
    expiresAt: new Date(Date.now() + 1500).toISOString(),
  });
  assert.equal(expiring.status, 201);
  assert.equal((await call('GET', '/api/v1/whoami', expiring.json.token)).status, 200);
  await until('the token to expire', async () => (await call('GET', '/api/v1/whoami', expiring.json.token)).status === 401, 10_000);
});

test("joining: a second agent under a live host's name is refused and the first keeps working; a single-use join token joins once", async () => {
  const intruder = await call('POST', '/api/v1/agent/join', server.joinToken, { name: 'h1' });
  assert.equal(intruder.status, 409);
  assert.equal(intruder.json.code, 'NOOPS_E_HOST_TAKEN');
  // The first agent's token still works: its heartbeats keep h1 up.
  const beatBefore = (await cliJson<HostView[]>(server, ['hosts'])).find((h) => h.name === 'h1')!;
  assert.ok(beatBefore.pendingJoin, 'the refused join is shown to the admin');
  await until('h1 to report again', async () => {
    const h = (await cliJson<HostView[]>(server, ['hosts'])).find((x) => x.name === 'h1')!;
    return h.status === 'up' && h.lastHeartbeat! > beatBefore.lastHeartbeat!;
  });

  const [once] = await cliJson<{ token: string }[]>(server, ['token', 'create', '--join', '--name', 'rack9', '--uses', '1']);
  const first = await call('POST', '/api/v1/agent/join', once!.token, { name: 'new1' });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const second = await call('POST', '/api/v1/agent/join', once!.token, { name: 'new2' });
  assert.equal(second.status, 401);
  assert.match(second.json.message, /no joins left/);

  // An agent fetches only the packages of its own desired state.
  const agentToken = first.json.token as string;
  assert.equal((await call('GET', `/api/v1/artifacts/${shopSha}`, agentToken)).status, 404);
  // A dead host is removed by the admin; its token stops working at once.
  assert.equal((await cli(server, ['host', 'rm', 'new1'])).code, 0);
  assert.equal((await call('GET', '/api/v1/whoami', agentToken)).status, 401);
});

test('bad input: repeated and mistyped parameters are 400; a report with a bad tag is refused and the tree still answers', async () => {
  const repeated = await call('GET', `/api/v1/instances?tag=${WEB}&tag=${SHOP}`, server.adminToken);
  assert.equal(repeated.status, 400);
  assert.equal(repeated.json.code, 'NOOPS_E_INPUT');
  const mistyped = await call('GET', '/api/v1/releases?tga=x', server.adminToken);
  assert.equal(mistyped.status, 400);
  assert.match(mistyped.json.message, /unknown parameter "tga"/);

  const joined = await call('POST', '/api/v1/agent/join', server.joinToken, { name: 'liar' });
  const report = {
    processes: [
      { tag: 'Not A Tag!', process: 'web', version: 'abc1234', state: 'up', pid: 1, port: null, restarts: 0, startedAt: null, error: null },
    ],
    failures: [],
    generation: 0,
  };
  const bad = await call('POST', '/api/v1/agent/report', joined.json.token, report);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.code, 'NOOPS_E_INPUT');
  assert.equal((await call('GET', '/api/v1/tree', server.adminToken)).status, 200);
  assert.equal((await cli(server, ['host', 'rm', 'liar'])).code, 0);
});

test('every refusal is in the audit log', async () => {
  const audit = await cliJson<AuditView[]>(server, ['audit', '--limit', '1000']);
  const denied = audit.filter((a) => a.action === 'denied');
  assert.ok(
    denied.some((a) => a.actor === 'web' && a.detail.code === 'NOOPS_E_FORBIDDEN'),
    "a team's refused change",
  );
  assert.ok(
    denied.some((a) => String(a.actor).startsWith('anonymous@') && a.detail.code === 'NOOPS_E_UNAUTHORIZED'),
    'a call without a token',
  );
  assert.ok(audit.some((a) => a.action === 'agent.join.refused' && a.target === 'h1'));
  assert.ok(audit.some((a) => a.action === 'token.revoke'));
});
