/**
 * Secrets end to end, with a real server and two real agents: a deployed app sees its secrets in
 * its environment (the nearest scope winning), and the value is in no read API, no log, no audit
 * entry, no database file, and on no host that does not run the app; a team viewer lists names
 * but cannot set; another team can neither see nor use them; a deploy naming a missing secret
 * changes nothing; a repository password is never stored or shown.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildProgress, DeploymentView, HostView, InstanceView, SecretView, TokenCreated } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  commitFiles,
  freePort,
  getJson,
  killSupervised,
  NOOPS,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const WEB = 'cop.acme_owt.web';
const JOB = `${WEB}_pdl.shop_service.api_job.web`;
const CLUSTER = `${JOB}_cluster.prod`;
const MAIL_JOB = 'cop.acme_owt.mail_pdl.mail_service.smtp_job.web';
const MAIL_CLUSTER = `${MAIL_JOB}_cluster.prod`;
const DB_VALUE = 'db-Pa55-7f3k9QxZ-e2e';
const API_VALUE = 'api-Key-Lm2Rt8Vw-e2e';
const REPO_PASSWORD = 'repo-Pw-Hy6Tq1Zx-e2e';
const VALUES = [DB_VALUE, API_VALUE, REPO_PASSWORD];

const base = tmp('secrets');
const data = join(base, 'server');
const roots = { a1: join(base, 'agent-a1'), a2: join(base, 'agent-a2') };
const repo = join(base, 'repo');
const mailRepo = join(base, 'mail-repo');
let server: ServerProc;
const agents: Proc[] = [];
let version = '';

const NOOPS_YAML = `
env:
  MODE: live
  DB_PASSWORD: { secret: shop-db }
processes:
  web:
    command: node server.js
    env:
      API_KEY: { secret: api-key }
`;
const SERVER_JS = `
require('http').createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ db: process.env.DB_PASSWORD ?? null, api: process.env.API_KEY ?? null, mode: process.env.MODE }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

async function api<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T; text: string }> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, text };
}

async function teamToken(name: string, scope: string, role: string): Promise<string> {
  const r = await api<TokenCreated>('POST', '/tokens', server.adminToken, { kind: 'team', name, scope, role });
  assert.equal(r.status, 201, r.text);
  return r.body.token;
}

function secretFile(name: string, value: string): string {
  const file = join(base, `${name}.secret`);
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
}

function assertNoValue(where: string, text: string): void {
  for (const v of VALUES) assert.equal(text.includes(v), false, `${where} holds a secret's value in clear`);
}

before(async () => {
  server = await startServer(data, await freePort());
  agents.push(startAgent(server, roots.a1, 'a1'), startAgent(server, roots.a2, 'a2'));
  await until('hosts up', async () => (await cliJson<HostView[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2);
  const commit = commitFiles(repo, { 'noops.yaml': NOOPS_YAML, 'server.js': SERVER_JS }, 'app with secrets');
  version = commit.slice(0, 9);
  const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', commit]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'a1'])).code, 0);
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  Object.values(roots).forEach(killSupervised);
  cleanup([base]);
});

test('a deploy naming a secret nobody set is refused before any host changes', async () => {
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', version]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NOOPS_E_SECRET_UNKNOWN/);
  assert.match(r.stderr, /api-key, shop-db/);
  assert.match(r.stderr, /noops secret set api-key --scope/);
  assert.deepEqual(await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]), []);
  assert.equal(existsSync(join(roots.a1, 'jobs', CLUSTER)), false);
});

test('set from a file and from stdin; the deployed process gets the nearest secret of each name in its environment', async () => {
  // a far one at cop.acme, the near one at the team's node: the near one wins
  assert.equal(
    (await cli(server, ['secret', 'set', 'shop-db', '--scope', 'cop.acme', '--from-file', secretFile('far', 'far-away-value')])).code,
    0,
  );
  const set = await cli(server, ['secret', 'set', 'shop-db', '--scope', WEB, '--from-file', secretFile('db', DB_VALUE)]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /secret shop-db set at cop\.acme_owt\.web \(version 1\)/);
  // stdin, as `printf ... | noops secret set` does
  execFileSync(process.execPath, [NOOPS, 'secret', 'set', 'api-key', '--scope', JOB], {
    input: `${API_VALUE}\n`,
    env: { ...process.env, NOOPS_SERVER: server.url, NOOPS_TOKEN: server.adminToken },
  });
  const d = await cli(server, ['deploy', '-t', CLUSTER, '-v', version]);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  assertNoValue("the deploy's output", d.stdout + d.stderr);
  const [row] = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  const answer = await until('the app answers', () => getJson<{ db: string; api: string; mode: string }>(`http://127.0.0.1:${row!.port}/`));
  assert.deepEqual(answer, { db: DB_VALUE, api: API_VALUE, mode: 'live' });
});

test('the agent that runs it keeps the values in a 0600 state.json; the other host has none of them', () => {
  const file = join(roots.a1, 'state.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(readFileSync(file, 'utf8').includes(DB_VALUE), 'the host that runs the app needs the value');
  assertNoValue("a2's files", existsSync(join(roots.a2, 'state.json')) ? readFileSync(join(roots.a2, 'state.json'), 'utf8') : '');
});

test('a team viewer lists the names and versions but cannot set or remove; another team sees none and cannot use them', async () => {
  const viewer = await teamToken('web-viewer', WEB, 'viewer');
  const ls = await cli(server, ['secret', 'ls', '--json'], { env: { NOOPS_TOKEN: viewer } });
  assert.equal(ls.code, 0, ls.stderr);
  const rows = JSON.parse(ls.stdout) as SecretView[];
  assert.deepEqual(rows.map((s) => `${s.name}@${s.scope}#${s.version}`).sort(), [`api-key@${JOB}#1`, `shop-db@${WEB}#1`]);
  const set = await cli(server, ['secret', 'set', 'shop-db', '--scope', WEB, '--from-file', secretFile('evil', 'evil')], {
    env: { NOOPS_TOKEN: viewer },
  });
  assert.equal(set.code, 1);
  assert.match(set.stderr, /NOOPS_E_FORBIDDEN/);
  const rm = await cli(server, ['secret', 'rm', 'shop-db', '--scope', WEB], { env: { NOOPS_TOKEN: viewer } });
  assert.match(rm.stderr, /NOOPS_E_FORBIDDEN/);

  // the mail team: builds a job that names shop-db, on a2; its deploy is refused and a2 is untouched
  const mail = await teamToken('mail-deployer', 'cop.acme_owt.mail', 'deployer');
  assert.deepEqual(JSON.parse((await cli(server, ['secret', 'ls', '--json'], { env: { NOOPS_TOKEN: mail } })).stdout), []);
  const commit = commitFiles(mailRepo, { 'noops.yaml': NOOPS_YAML, 'server.js': SERVER_JS }, 'steals secrets');
  assert.equal((await cli(server, ['build', '-u', mailRepo, '-t', MAIL_JOB, '-v', commit], { env: { NOOPS_TOKEN: mail } })).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', MAIL_CLUSTER, '--hosts', 'a2'])).code, 0);
  const generation = JSON.parse(readFileSync(join(roots.a2, 'state.json'), 'utf8')).generation as number;
  const d = await cli(server, ['deploy', '-t', MAIL_CLUSTER, '-v', commit.slice(0, 9)], { env: { NOOPS_TOKEN: mail } });
  assert.equal(d.code, 1);
  assert.match(d.stderr, /NOOPS_E_SECRET_UNKNOWN/);
  assert.deepEqual(await cliJson<DeploymentView[]>(server, ['history', '-t', MAIL_CLUSTER]), []);
  assert.equal(JSON.parse(readFileSync(join(roots.a2, 'state.json'), 'utf8')).generation, generation);
  assert.equal(existsSync(join(roots.a2, 'jobs', MAIL_CLUSTER)), false);
});

test('a repository password is never stored or shown; a --credential that names no secret is refused', async () => {
  const port = await freePort(); // nothing listens: the clone fails, after the build was recorded
  const b = await cli(server, ['build', '-u', `http://deployer:${REPO_PASSWORD}@127.0.0.1:${port}/shop.git`, '-t', JOB, '-v', 'main']);
  assert.equal(b.code, 1);
  assertNoValue("the build's output", b.stdout + b.stderr);
  assert.match(b.stdout, new RegExp(`http://deployer@127\\.0\\.0\\.1:${port}/shop\\.git`));
  const missing = await cli(server, ['build', '-u', 'https://git.example.com/x.git', '-t', JOB, '-v', 'main', '--credential', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NOOPS_E_SECRET_UNKNOWN/);
});

test('no read API, audit entry, log or database file holds a value in clear', async () => {
  const token = server.adminToken;
  const builds = (await api<{ id: number }[]>('GET', '/audit', token)).body as unknown as { action: string; detail: { build?: number } }[];
  const buildIds = [...new Set(builds.filter((a) => a.action === 'build').map((a) => a.detail.build))];
  const deployments = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
  const paths = [
    '/hosts',
    '/instances',
    '/tree',
    '/releases',
    `/nodes/${JOB}`,
    `/nodes/${CLUSTER}`,
    `/history?tag=${CLUSTER}`,
    '/audit',
    '/secrets',
    '/clusters',
    '/events',
    '/crons',
    '/metrics',
    '/tokens',
    ...deployments.map((d) => `/deployments/${d.id}`),
    ...buildIds.map((id) => `/builds/${id}`),
  ];
  assert.ok(buildIds.length >= 3);
  for (const p of paths) {
    const r = await api<unknown>('GET', p, token);
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assertNoValue(`GET ${p}`, r.text);
  }
  const build = (await api<BuildProgress>('GET', `/builds/${Math.max(...buildIds.map(Number))}`, token)).body;
  assert.match(build.build.repo, /^https:\/\/git\.example\.com|^http:\/\/deployer@127/);
  for (const args of [
    ['ps', '-t', CLUSTER],
    ['releases', '-t', JOB],
    ['history', '-t', CLUSTER],
    ['secret', 'ls'],
  ]) {
    const r = await cli(server, args);
    assertNoValue(`noops ${args.join(' ')}`, r.stdout + r.stderr);
  }
  assertNoValue("the server's log", server.output());
  for (const a of agents) assertNoValue("an agent's log", a.output());
  for (const f of readdirSync(data)) {
    if (f.startsWith('noops.db')) assertNoValue(`DATA/${f}`, readFileSync(join(data, f), 'latin1'));
  }
  assert.equal(statSync(join(data, 'secret.key')).mode & 0o777, 0o600);
});
