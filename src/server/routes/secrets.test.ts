/**
 * The secret routes on a real server in this process: who may set, list and remove; that no
 * answer, audit entry or database file holds a value; that a deploy naming a missing secret is
 * refused; that an agent gets the values of its own instances only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../api/index.js';
import type { TokenCreated } from '../../api/index.js';
import { startServer, type RunningServer } from '../index.js';

const VALUE = 'hunter2-Zq8vX1-not-anywhere';
const WEB = 'cop.acme_owt.web';
const JOB = `${WEB}_pdl.shop_service.api_job.web`;
const CLUSTER = `${JOB}_cluster.prod`;
const manifest = (secretEnv: Record<string, string>) => ({
  schema: 1,
  job: JOB,
  version: 'abcdef123',
  commit: 'abcdef123'.padEnd(40, '0'),
  repo: 'r',
  builtAt: new Date().toISOString(),
  stack: 'procfile',
  env: {},
  secretEnv,
  processes: [{ name: 'web', command: 'x', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 1 }],
});

let dir: string;
let server: RunningServer;
let admin: ApiClient;

async function team(name: string, scope: string, role: 'viewer' | 'deployer' | 'admin'): Promise<ApiClient> {
  const t = await admin.request<TokenCreated>('POST', '/tokens', { kind: 'team', name, scope, role });
  return new ApiClient(server.url, t.token);
}

const code = (c: string) => (err: Error & { code?: string }) => err.code === c;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'noops-secrets-'));
  server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  admin = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the key file is made at the first start, mode 0600', () => {
  assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
});

test('set answers names and versions, never the value; a team viewer lists but cannot set; a team admin sets within its scope only', async () => {
  const first = await admin.setSecret('db', { scope: WEB, value: VALUE });
  assert.deepEqual([first.name, first.scope, first.version, first.updatedBy], ['db', WEB, 1, 'admin']);
  assert.equal(JSON.stringify(first).includes(VALUE), false);
  assert.equal((await admin.setSecret('db', { scope: WEB, value: `${VALUE}-2` })).version, 2);

  const viewer = await team('web-viewer', WEB, 'viewer');
  assert.deepEqual(
    (await viewer.secrets()).map((s) => `${s.name}@${s.scope}`),
    [`db@${WEB}`],
  );
  await assert.rejects(viewer.setSecret('db', { scope: WEB, value: 'x' }), code('NOOPS_E_FORBIDDEN'));
  await assert.rejects(viewer.removeSecret('db', WEB), code('NOOPS_E_FORBIDDEN'));

  const webAdmin = await team('web-admin', WEB, 'admin');
  assert.equal((await webAdmin.setSecret('api-key', { scope: JOB, value: VALUE })).scope, JOB);
  await assert.rejects(webAdmin.setSecret('db', { scope: 'cop.acme', value: 'x' }), code('NOOPS_E_FORBIDDEN'));
  const deployer = await team('web-deployer', WEB, 'deployer');
  await assert.rejects(deployer.setSecret('db', { scope: WEB, value: 'x' }), code('NOOPS_E_FORBIDDEN'));

  // another team sees nothing of them and may not remove them
  const other = await team('mail-admin', 'cop.acme_owt.mail', 'admin');
  assert.deepEqual(await other.secrets(), []);
  await assert.rejects(other.removeSecret('db', WEB), code('NOOPS_E_FORBIDDEN'));

  // with a scope: its subtree, and what serves it from above
  assert.deepEqual((await admin.secrets(JOB)).map((s) => s.name).sort(), ['api-key', 'db']);
  assert.deepEqual(
    (await admin.secrets('cop.acme_owt.mail')).map((s) => s.name),
    [],
  );
});

test('bad names and values too large are 400s', async () => {
  await assert.rejects(admin.setSecret('-x', { scope: WEB, value: 'v' }), code('NOOPS_E_INPUT'));
  await assert.rejects(admin.setSecret('big', { scope: WEB, value: 'x'.repeat(64 * 1024 + 1) }), code('NOOPS_E_INPUT'));
  await assert.rejects(admin.request('PUT', '/secrets/db', { scope: WEB, value: 'v', extra: 1 }), code('NOOPS_E_INPUT'));
});

test('a deploy naming a missing secret is refused before anything changes; one that has them is not refused for secrets', async () => {
  const at = new Date().toISOString();
  await server.ctx.store.putRelease({
    job: JOB,
    version: 'abcdef123',
    commit: 'c',
    repo: 'r',
    sha256: 'a'.repeat(64),
    size: 1,
    manifest: manifest({ DB: 'db', SMTP: 'smtp' }),
    buildId: null,
    createdAt: at,
  });
  const before = (await server.ctx.store.listDeployments()).length;
  await assert.rejects(
    admin.request('POST', '/deployments', { tag: CLUSTER, version: 'abcdef123' }),
    (err: Error & { code?: string; hint?: string }) =>
      err.code === 'NOOPS_E_SECRET_UNKNOWN' &&
      /smtp/.test(err.message) &&
      !/\bdb\b/.test(err.message) &&
      /noops secret set smtp --scope/.test(err.hint!),
  );
  assert.equal((await server.ctx.store.listDeployments()).length, before);
  await admin.setSecret('smtp', { scope: 'cop.acme', value: 'mail-pass' });
  // past the secrets check, the deploy fails for what it lacks (no cluster here), not for a secret
  await assert.rejects(admin.request('POST', '/deployments', { tag: CLUSTER, version: 'abcdef123' }), code('NOOPS_E_CLUSTER_UNKNOWN'));
});

test('an agent gets the values of its own instances, the nearest secret winning; other hosts get none', async () => {
  const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
  const h1 = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
  const h2 = new ApiClient(server.url, (await joiner.join({ name: 'h2', labels: {} })).token);
  await admin.setSecret('db', { scope: 'cop.acme', value: 'far-away' });
  const at = new Date().toISOString();
  await server.ctx.store.setDesired('h1', CLUSTER, {
    host: 'h1',
    tag: CLUSTER,
    version: 'abcdef123',
    sha256: 'a'.repeat(64),
    manifest: manifest({ DB: 'db', SMTP: 'smtp' }),
    deploymentId: null,
    updatedAt: at,
    kind: 'deploy',
  });
  const [inst] = (await h1.desired(-1)).instances;
  assert.deepEqual(inst!.secrets, { db: `${VALUE}-2`, smtp: 'mail-pass' });
  assert.deepEqual((await h2.desired(-1)).instances, []);
});

test('rm is refused while a desired instance needs the secret and nothing else serves it', async () => {
  // db at WEB is used by h1's instance, but db at cop.acme would serve it: allowed
  await admin.removeSecret('db', WEB);
  await assert.rejects(admin.removeSecret('db', 'cop.acme'), code('NOOPS_E_SECRET_IN_USE'));
  await assert.rejects(admin.removeSecret('nope', WEB), code('NOOPS_E_SECRET_UNKNOWN'));
});

test('no answer, audit entry or database file holds a value', async () => {
  const answers = await Promise.all(
    ['/secrets', '/audit', '/releases', '/history', '/hosts', '/tree'].map((p) =>
      admin.request<unknown>('GET', p).catch((e: Error) => e.message),
    ),
  );
  for (const a of answers) assert.equal(JSON.stringify(a).includes(VALUE), false);
  const audit = await server.ctx.store.listAudit();
  assert.ok(audit.some((a) => a.action === 'secret.set' && a.detail.name === 'db'));
  assert.ok(audit.some((a) => a.action === 'secret.rm' && a.detail.name === 'db'));
  assert.equal(JSON.stringify(audit).includes(VALUE), false);
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('noops.db')) continue;
    for (const v of [VALUE, 'mail-pass']) assert.equal(readFileSync(join(dir, f)).includes(v), false, `${f} holds a value in clear`);
  }
});

test("a value this server cannot open (another key) fails a deploy clearly and leaves an agent's desired state working without it", async () => {
  await server.ctx.store.putSecret({
    scope: 'cop.acme',
    name: 'smtp',
    sealed: 'v1:c2VhbGVkIGJ5IGFub3RoZXIga2V5IGVudGlyZWx5',
    keyId: 'other',
    updatedBy: 'x',
    updatedAt: new Date().toISOString(),
  });
  await assert.rejects(admin.request('POST', '/deployments', { tag: CLUSTER, version: 'abcdef123' }), code('NOOPS_E_SECRET_KEY'));
  const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
  const h1 = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
  assert.deepEqual((await h1.desired(-1)).instances[0]!.secrets, { db: 'far-away' });
});
