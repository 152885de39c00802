/**
 * Behaviour of the store, run against both backends: SQLite in a temp dir, and PostgreSQL when
 * NOOPS_TEST_PG_URL is set (scripts/pg-setup.sh prints one). Every test gets a fresh database:
 * a new file on SQLite, a new `noops_t_<random>` database on PostgreSQL, dropped at the end.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { NoopsError } from '../errors/index.js';
import { BUILD_LOG_HEAD_CHARS, BUILD_LOG_PIECE_CHARS, BUILD_LOG_TAIL_CHARS } from './build-log.js';
import { migrationProvider } from './migrations.js';
import { MIGRATION_NAMES, openStore, parseStoreUrl } from './open.js';
import { deploymentToDb } from './rows.js';
import type { Database } from './schema.js';
import type { BuildRow, DeploymentRow, DesiredRow, InstanceRow, ReleaseRow, Store } from './index.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX = fileURLToPath(new URL('./open.ts', import.meta.url));

/**
 * Runs `setDesired(host, tag_i, ...)` `n` times in a separate Node process on `url`; returns
 * the generations it got. Separate processes are separate connections, as several servers are.
 */
async function setDesiredInChild(url: string, n: number, tagPrefix: string): Promise<number[]> {
  const script = `
    const { openStore } = await import(${JSON.stringify(INDEX)});
    const store = await openStore(process.env.URL);
    const gens = [];
    for (let i = 0; i < ${n}; i++) {
      const tag = ${JSON.stringify(tagPrefix)} + i;
      gens.push(await store.setDesired('h1', tag, { host: 'h1', tag, version: 'v' + i, sha256: 's', manifest: {}, deploymentId: null, updatedAt: new Date().toISOString() }));
    }
    await store.close();
    console.log(JSON.stringify(gens));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, URL: url },
  });
  return JSON.parse(stdout) as number[];
}

/** Makes fresh, empty databases of one backend and removes them all at the end. */
interface Backend {
  name: 'sqlite' | 'postgres';
  skip: string | false;
  freshUrl(): Promise<string>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir: string | undefined;
  let n = 0;
  return {
    name: 'sqlite',
    skip: false,
    async freshUrl() {
      dir ??= mkdtempSync(join(tmpdir(), 'noops-store-'));
      return `sqlite:${join(dir, `t${++n}`, 'noops.db')}`;
    },
    async cleanup() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  const created: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    skip: PG_URL
      ? false
      : 'set NOOPS_TEST_PG_URL (e.g. postgres://noops:noops@127.0.0.1:5432/noops_test; scripts/pg-setup.sh prints it) to run the PostgreSQL store tests',
    async freshUrl() {
      const name = `noops_t_${randomBytes(6).toString('hex')}`;
      await admin((c) => c.query(`create database ${name}`));
      created.push(name);
      const url = new URL(PG_URL!);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async cleanup() {
      if (created.length === 0) return;
      // Cleanup is not what these tests check: a database another role still holds (a shared
      // server) is left behind with a warning rather than failing the suite.
      await admin(async (c) => {
        for (const name of created) {
          await c.query(`drop database if exists ${name} with (force)`).catch((err: Error) => {
            process.emitWarning(`could not drop test database ${name}: ${err.message}`);
          });
        }
      });
    },
  };
}

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
/** The ISO time `s` seconds after a fixed start. */
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

const JOB = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api';
const CLUSTER = `${JOB}_cluster.prod`;

const release = (version: string, s: number, extra: Partial<ReleaseRow> = {}): ReleaseRow => ({
  job: JOB,
  version,
  commit: `${version}0000000`,
  repo: 'https://git.example/ack.git',
  sha256: `sha-${version}`,
  size: 5_000_000_000,
  manifest: { processes: { web: { command: 'node server.js', port: true } }, env: { A: '1' } },
  buildId: null,
  createdAt: at(s),
  ...extra,
});

const build = (extra: Partial<BuildRow> = {}): Omit<BuildRow, 'id'> => ({
  repo: 'https://git.example/ack.git',
  job: JOB,
  ref: 'main',
  status: 'running',
  version: null,
  initiator: 'admin',
  startedAt: at(0),
  endedAt: null,
  log: '',
  error: null,
  ...extra,
});

const deployment = (extra: Partial<DeploymentRow> = {}): Omit<DeploymentRow, 'id'> => ({
  tag: CLUSTER,
  version: 'abc123def',
  kind: 'deploy',
  initiator: 'admin',
  startedAt: at(0),
  endedAt: null,
  hosts: ['h1', 'h2'],
  status: 'running',
  previous: { h1: 'aaa111bbb', h2: null },
  hostResults: { h1: 'pending', h2: 'pending' },
  conf: { batch: 1, pause: '5s', nested: { a: [1, 2] } },
  message: null,
  deadline: at(600),
  progress: {},
  ...extra,
});

const desired = (host: string, tag: string, version: string, extra: Partial<DesiredRow> = {}): DesiredRow => ({
  host,
  tag,
  version,
  sha256: `sha-${version}`,
  manifest: { processes: { web: { command: 'x' } } },
  deploymentId: 7,
  updatedAt: at(1),
  kind: null,
  ...extra,
});

const instance = (host: string, process: string, extra: Partial<InstanceRow> = {}): InstanceRow => ({
  host,
  tag: CLUSTER,
  process,
  version: 'abc123def',
  state: 'running',
  pid: 1234,
  port: 20001,
  restarts: 0,
  startedAt: at(2),
  error: null,
  container: null,
  address: null,
  updatedAt: at(3),
  ...extra,
});

describe('parseStoreUrl', () => {
  it('reads sqlite URLs and .db paths', () => {
    assert.deepEqual(parseStoreUrl('sqlite:/var/lib/noops/noops.db'), { backend: 'sqlite', path: '/var/lib/noops/noops.db' });
    assert.deepEqual(parseStoreUrl('sqlite:///var/lib/noops.db'), { backend: 'sqlite', path: '/var/lib/noops.db' });
    assert.deepEqual(parseStoreUrl('sqlite::memory:'), { backend: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseStoreUrl('/tmp/x/noops.db'), { backend: 'sqlite', path: '/tmp/x/noops.db' });
    assert.equal(parseStoreUrl('rel/noops.db').backend, 'sqlite');
  });

  it('reads postgres URLs', () => {
    assert.deepEqual(parseStoreUrl('postgres://u:p@h:5432/d'), { backend: 'postgres', url: 'postgres://u:p@h:5432/d' });
    assert.equal(parseStoreUrl('postgresql://u:p@h/d').backend, 'postgres');
  });

  it('rejects anything else without echoing a password', async () => {
    assert.throws(
      () => parseStoreUrl('mysql://root:secret@h/d'),
      (e: Error) => /unsupported store URL scheme "mysql:"/.test(e.message) && !e.message.includes('secret'),
    );
    assert.throws(() => parseStoreUrl('noops.sqlite'), /unsupported store URL/);
    assert.throws(() => parseStoreUrl('sqlite:'), /names no file/);
    await assert.rejects(openStore('http://example.com/x.db'), /unsupported store URL/);
  });

  it('says so with NOOPS_E_STORE_URL (400), a malformed postgres:// URL included', () => {
    for (const url of ['mysql://root:secret@h/d', 'noops.sqlite', 'sqlite:', 'postgres://u:secret@h:notaport/d']) {
      assert.throws(
        () => parseStoreUrl(url),
        (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_STORE_URL' && e.status === 400 && !e.message.includes('secret'),
        url,
      );
    }
  });
});

describe('openStore', () => {
  it('opens a private in-memory SQLite store', async () => {
    const a = await openStore('sqlite::memory:');
    const b = await openStore('sqlite::memory:');
    await a.setMeta('k', 'a');
    assert.equal(await a.getMeta('k'), 'a');
    assert.equal(await b.getMeta('k'), undefined);
    await a.close();
    await b.close();
  });
});

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`store on ${backend.name}`, { skip: backend.skip }, () => {
    const open: Store[] = [];
    /** A store on a fresh database (closed at the end). */
    const fresh = async (): Promise<Store> => {
      const store = await openStore(await backend.freshUrl());
      open.push(store);
      return store;
    };
    after(async () => {
      for (const s of open) await s.close();
      await backend.cleanup();
    });

    it('says which backend it is; close is idempotent', async () => {
      const url = await backend.freshUrl();
      const s = await openStore(url);
      assert.equal(s.kind, backend.name);
      await s.close();
      await s.close();
    });

    it('migrations are idempotent: opening twice keeps the data', async () => {
      const url = await backend.freshUrl();
      const a = await openStore(url);
      await a.setMeta('k', 'v');
      await a.close();
      const b = await openStore(url);
      open.push(b);
      assert.equal(await b.getMeta('k'), 'v');
      assert.deepEqual(MIGRATION_NAMES, [
        '0001_initial',
        '0002_rollouts',
        '0003_runtimes',
        '0004_access',
        '0005_secrets',
        '0007_limits',
        '0009_signatures',
        '0010_rollout_lock',
        '0011_deploy_lock',
        '0012_leases',
        '0013_agent_commands',
        '0014_host_reports',
        '0015_package_blobs',
        '0016_metrics',
        '0017_strategies',
        '0018_alarms',
        '0019_naming',
        '0020_balancers',
        '0021_networks',
        '0022_capacity',
        '0023_placements',
        '0024_series_ids',
        '0025_schedule_leader',
        '0026_deployment_hosts',
        '0028_replicas',
        '0029_drain_replicas',
        '0030_drain_pids',
        '0032_peer_url',
        '0033_drain_process',
        '0034_staged_packages',
        '0035_desired_manifests',
      ]);
    });

    it('several stores opening one new database at once migrate it once', async () => {
      const url = await backend.freshUrl();
      const stores = await Promise.all([openStore(url), openStore(url), openStore(url)]);
      open.push(...stores);
      await stores[0].setMeta('x', '1');
      assert.equal(await stores[2].getMeta('x'), '1');
    });

    it('opening one database twice in one process: closing one store keeps the other working', async () => {
      const url = await backend.freshUrl();
      const a = await openStore(url);
      const b = await openStore(url);
      open.push(b);
      await a.setMeta('k', 'a');
      await a.close();
      assert.equal(await b.getMeta('k'), 'a');
      await b.setMeta('k', 'b');
      const c = await openStore(url);
      open.push(c);
      assert.equal(await c.getMeta('k'), 'b');
    });

    it('several processes opening one new database and setting desired state at once', async () => {
      const url = await backend.freshUrl();
      const results = await Promise.all([0, 1, 2].map((p) => setDesiredInChild(url, 10, `${CLUSTER}_p${p}_`)));
      const all = results.flat().sort((x, y) => x - y);
      assert.deepEqual(
        all,
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      for (const gens of results)
        assert.deepEqual(
          gens,
          [...gens].sort((x, y) => x - y),
        ); // increasing per process
      const s = await openStore(url);
      open.push(s);
      const got = await s.getDesired('h1');
      assert.equal(got.generation, 30);
      assert.equal(got.entries.length, 30);
    });

    it('runtimes: put once per name and version, the first package stays, list by name', async () => {
      const s = await fresh();
      const node18 = {
        name: 'node',
        version: '18.20.4',
        sha256: 'a'.repeat(64),
        size: 3_000_000_000,
        platform: 'linux/x64',
        exports: { path: ['bin'], env: { NODE_HOME: '{dir}' } },
        root: 'package',
        createdBy: 'admin',
        createdAt: '2024-05-01T00:00:00.000Z',
      };
      assert.deepEqual(await s.putRuntime(node18), node18);
      assert.deepEqual(
        await s.putRuntime({ ...node18, sha256: 'b'.repeat(64) }),
        node18,
        'a second package under one version is not stored',
      );
      const jdk = { ...node18, name: 'jdk', version: '17', platform: 'any', exports: { path: ['bin'], env: {} }, root: '' };
      const node9 = { ...node18, version: '9.0.0' };
      await s.putRuntime(jdk);
      await s.putRuntime(node9);
      assert.deepEqual(await s.getRuntime('node', '18.20.4'), node18);
      assert.equal(await s.getRuntime('node', '18'), undefined);
      assert.deepEqual(
        (await s.listRuntimes()).map((r) => `${r.name}@${r.version}`),
        ['jdk@17', 'node@18.20.4', 'node@9.0.0'],
      );
      assert.deepEqual(await s.listRuntimes('jdk'), [jdk]);
    });

    it('tokens: put, find, overwrite, delete by kind and name', async () => {
      const s = await fresh();
      assert.equal(await s.findToken('nope'), undefined);
      await s.putToken({
        hash: 'h1',
        kind: 'agent',
        name: 'host1',
        scope: null,
        createdAt: at(0),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      await s.putToken({
        hash: 'h2',
        kind: 'agent',
        name: 'host1',
        scope: null,
        createdAt: at(1),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      await s.putToken({
        hash: 'h3',
        kind: 'team',
        name: 'host1',
        scope: 'cop.xiaomi',
        createdAt: at(2),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      assert.deepEqual(await s.findToken('h3'), {
        hash: 'h3',
        kind: 'team',
        name: 'host1',
        scope: 'cop.xiaomi',
        createdAt: at(2),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      await s.putToken({
        hash: 'h3',
        kind: 'team',
        name: 'ops',
        scope: null,
        createdAt: at(3),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      assert.deepEqual(await s.findToken('h3'), {
        hash: 'h3',
        kind: 'team',
        name: 'ops',
        scope: null,
        createdAt: at(3),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      await s.deleteTokens('agent', 'host1');
      assert.equal(await s.findToken('h1'), undefined);
      assert.equal(await s.findToken('h2'), undefined);
      assert.ok(await s.findToken('h3'));
    });

    it('meta: unset is undefined, set overwrites', async () => {
      const s = await fresh();
      assert.equal(await s.getMeta('server.id'), undefined);
      await s.setMeta('server.id', 'a');
      await s.setMeta('server.id', 'b');
      assert.equal(await s.getMeta('server.id'), 'b');
    });

    it('meta: initMeta sets once; several stores at once agree on the first value', async () => {
      const url = await backend.freshUrl();
      const stores = await Promise.all([openStore(url), openStore(url), openStore(url)]);
      open.push(...stores);
      const got = await Promise.all(stores.map((st, i) => st.initMeta('server_id', `id-${i}`)));
      assert.equal(new Set(got).size, 1, got.join(' '));
      assert.equal(await stores[0].initMeta('server_id', 'later'), got[0]);
    });

    it('desired: raiseDesiredGeneration raises, never lowers, and setDesired goes on from there', async () => {
      const s = await fresh();
      assert.equal(await s.raiseDesiredGeneration('h1', 5), 5);
      assert.equal(await s.raiseDesiredGeneration('h1', 2), 5);
      assert.equal(await s.setDesired('h1', CLUSTER, null), 6);
      assert.equal(await s.raiseDesiredGeneration('h1', 9), 9);
      assert.equal(await s.desiredGeneration('h1'), 9);
    });

    it('nodes: ensureNodes inserts new ones and keeps existing ones', async () => {
      const s = await fresh();
      await s.ensureNodes([]);
      await s.ensureNodes([
        { tag: 'cop.xiaomi_owt.miliao', level: 'owt', parent: 'cop.xiaomi', createdAt: at(1) },
        { tag: 'cop.xiaomi', level: 'cop', parent: null, createdAt: at(1) },
      ]);
      await s.ensureNodes([
        { tag: 'cop.xiaomi', level: 'cop', parent: null, createdAt: at(9) },
        { tag: 'cop.xiaomi_owt.b', level: 'owt', parent: 'cop.xiaomi', createdAt: at(9) },
      ]);
      assert.deepEqual(await s.listNodes(), [
        { tag: 'cop.xiaomi', level: 'cop', parent: null, createdAt: at(1) },
        { tag: 'cop.xiaomi_owt.b', level: 'owt', parent: 'cop.xiaomi', createdAt: at(9) },
        { tag: 'cop.xiaomi_owt.miliao', level: 'owt', parent: 'cop.xiaomi', createdAt: at(1) },
      ]);
    });

    it('access: token roles, expiry and uses; one use at a time; list and delete', async () => {
      const s = await fresh();
      const base = { scope: null, createdAt: at(0), role: null, expiresAt: null, createdBy: 'admin' } as const;
      await s.putToken({ ...base, hash: 'j1', kind: 'join', name: 'rack1', usesLeft: 2 });
      await s.putToken({ ...base, hash: 'j2', kind: 'join', name: 'any', usesLeft: null });
      await s.putToken({
        ...base,
        hash: 't1',
        kind: 'team',
        name: 'web',
        scope: 'cop.a_owt.web',
        role: 'viewer',
        usesLeft: null,
        expiresAt: at(99),
        createdAt: at(1),
      });
      assert.deepEqual(await s.findToken('t1'), {
        ...base,
        hash: 't1',
        kind: 'team',
        name: 'web',
        scope: 'cop.a_owt.web',
        role: 'viewer',
        usesLeft: null,
        expiresAt: at(99),
        createdAt: at(1),
      });
      const uses = await Promise.all([s.useToken('j1'), s.useToken('j1'), s.useToken('j1')]);
      assert.deepEqual(uses.sort(), [false, true, true]);
      assert.equal((await s.findToken('j1'))?.usesLeft, 0);
      assert.equal(await s.useToken('j2'), true);
      assert.equal(await s.useToken('nope'), false);
      assert.deepEqual(
        (await s.listTokens()).map((t) => t.hash),
        ['t1', 'j1', 'j2'],
      );
      assert.equal(await s.deleteToken('t1'), true);
      assert.equal(await s.deleteToken('t1'), false);
      assert.equal(await s.findToken('t1'), undefined);
    });

    it("access: a host's scope and pending join; deleteHost removes its token, desired state and instances", async () => {
      const s = await fresh();
      await s.upsertHost({ name: 'hx', labels: {}, address: null, joinedAt: at(0) });
      await s.updateHost('hx', {
        scope: 'cop.a_owt.web',
        pendingJoin: { at: at(1), address: '127.0.0.2', labels: { a: 'b' } },
        joinApprovedUntil: at(9),
      });
      assert.deepEqual(await s.getHost('hx'), {
        name: 'hx',
        labels: {},
        address: null,
        joinedAt: at(0),
        lastHeartbeat: null,
        scope: 'cop.a_owt.web',
        pendingJoin: { at: at(1), address: '127.0.0.2', labels: { a: 'b' } },
        joinApprovedUntil: at(9),
      });
      await s.upsertHost({ name: 'hx', labels: { z: '1' }, address: null, joinedAt: at(5) });
      assert.equal((await s.getHost('hx'))?.scope, 'cop.a_owt.web', "a join again keeps the host's scope");
      await s.putToken({
        hash: 'ax',
        kind: 'agent',
        name: 'hx',
        scope: null,
        createdAt: at(0),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
      await s.deleteHost('hx');
      assert.equal(await s.getHost('hx'), undefined);
      assert.equal(await s.findToken('ax'), undefined);
    });

    it('access: grants per scope', async () => {
      const s = await fresh();
      await s.putGrant({ scope: 'cop.a_owt.ops', grant: 'root', createdBy: 'admin', createdAt: at(0) });
      await s.putGrant({ scope: 'cop.a_owt.ops', grant: 'root', createdBy: 'admin', createdAt: at(1) });
      assert.deepEqual(await s.listGrants(), [{ scope: 'cop.a_owt.ops', grant: 'root', createdBy: 'admin', createdAt: at(0) }]);
      assert.equal(await s.deleteGrant('cop.a_owt.ops', 'root'), true);
      assert.deepEqual(await s.listGrants(), []);
    });

    it('tx: a change and its audit entry land together or not at all, nested writes included', async () => {
      const s = await fresh();
      await assert.rejects(
        s.tx(async (t) => {
          await t.putCluster({
            tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.tx',
            hosts: ['h1'],
            policy: {},
            conf: null,
            updatedAt: at(0),
          });
          await t.ensureNodes([{ tag: 'cop.txnode', level: 'cop', parent: null, createdAt: at(0) }]);
          await t.audit({ at: at(0), actor: 'a', action: 'tx.test', target: 'x', detail: {} });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await s.getCluster('cop.a_owt.b_pdl.c_service.d_job.e_cluster.tx'), undefined);
      assert.ok(!(await s.listNodes()).some((n) => n.tag === 'cop.txnode'));
      assert.deepEqual(await s.listAudit({ action: 'tx.test' }), []);
      const n = await s.tx(async (t) => {
        await t.audit({ at: at(0), actor: 'a', action: 'tx.test', target: 'x', detail: {} });
        return t.tx(async () => 7);
      });
      assert.equal(n, 7);
      assert.equal((await s.listAudit({ action: 'tx.test' })).length, 1);
    });

    it('hosts: upsert keeps joinedAt and lastHeartbeat; touchHosts records beats', async () => {
      const s = await fresh();
      assert.equal(await s.getHost('h1'), undefined);
      await s.upsertHost({ name: 'h1', labels: { zone: 'a', 'rack/x': 'r 1' }, address: '10.0.0.1', joinedAt: at(0) });
      assert.deepEqual(await s.getHost('h1'), {
        name: 'h1',
        labels: { zone: 'a', 'rack/x': 'r 1' },
        address: '10.0.0.1',
        joinedAt: at(0),
        lastHeartbeat: null,
        scope: null,
        pendingJoin: null,
        joinApprovedUntil: null,
      });
      await s.touchHosts([
        { name: 'h1', at: at(5) },
        { name: 'unknown', at: at(5) },
      ]);
      await s.upsertHost({ name: 'h1', labels: { zone: 'b' }, address: null, joinedAt: at(100) });
      await s.upsertHost({ name: 'h0', labels: {}, address: '10.0.0.0', joinedAt: at(1) });
      assert.deepEqual(await s.listHosts(), [
        {
          name: 'h0',
          labels: {},
          address: '10.0.0.0',
          joinedAt: at(1),
          lastHeartbeat: null,
          scope: null,
          pendingJoin: null,
          joinApprovedUntil: null,
        },
        {
          name: 'h1',
          labels: { zone: 'b' },
          address: null,
          joinedAt: at(0),
          lastHeartbeat: at(5),
          scope: null,
          pendingJoin: null,
          joinApprovedUntil: null,
        },
      ]);
      assert.equal(await s.getHost('unknown'), undefined);
    });

    it('hosts: the peer URL said at join is kept, and a join without one clears it', async () => {
      const s = await fresh();
      await s.upsertHost({ name: 'h1', labels: {}, address: '10.0.0.1', joinedAt: at(0), peerUrl: 'http://198.18.0.1:7701' });
      assert.equal((await s.getHost('h1'))?.peerUrl, 'http://198.18.0.1:7701');
      assert.equal((await s.listHosts())[0]?.peerUrl, 'http://198.18.0.1:7701');
      await s.upsertHost({ name: 'h1', labels: {}, address: '10.0.0.1', joinedAt: at(1) });
      assert.equal((await s.getHost('h1'))?.peerUrl, undefined);
    });

    it('touchHosts: latest beat wins, never moves back, handles big batches', async () => {
      const s = await fresh();
      await s.touchHosts([]);
      const names = Array.from({ length: 1234 }, (_, i) => `host-${String(i).padStart(5, '0')}`);
      await Promise.all(names.map((name) => s.upsertHost({ name, labels: {}, address: null, joinedAt: at(0) })));
      await s.touchHosts([
        { name: 'host-00001', at: at(10) },
        { name: 'host-00001', at: at(12) },
        { name: 'host-00001', at: at(11) },
      ]);
      assert.equal((await s.getHost('host-00001'))?.lastHeartbeat, at(12));
      // names that need quoting in SQL and in PostgreSQL array literals
      const odd = ['we"ird', 'a,b', '{x}', 'back\\slash', "o'neil", 'NULL', 'sp ace'];
      for (const name of odd) await s.upsertHost({ name, labels: {}, address: null, joinedAt: at(0) });
      await s.touchHosts(odd.map((name) => ({ name, at: at(13) })));
      for (const name of odd) assert.equal((await s.getHost(name))?.lastHeartbeat, at(13), name);
      await s.touchHosts([{ name: 'host-00001', at: at(8) }]);
      assert.equal((await s.getHost('host-00001'))?.lastHeartbeat, at(12));
      await s.touchHosts(names.map((name) => ({ name, at: at(20) })));
      const hosts = (await s.listHosts()).filter((h) => h.name.startsWith('host-'));
      assert.equal(hosts.length, names.length);
      assert.ok(hosts.every((h) => h.lastHeartbeat === at(20)));
    });

    it('clusters: put, get, overwrite, list', async () => {
      const s = await fresh();
      assert.equal(await s.getCluster(CLUSTER), undefined);
      const row = {
        tag: CLUSTER,
        hosts: ['h1', 'h2'],
        policy: { batch: 2, health: { path: '/ok' } },
        conf: 'batch: 2\n',
        updatedAt: at(0),
      };
      await s.putCluster(row);
      assert.deepEqual(await s.getCluster(CLUSTER), row);
      const row2 = { ...row, hosts: ['h3'], policy: {}, conf: null, updatedAt: at(5) };
      await s.putCluster(row2);
      await s.putCluster({ ...row, tag: `${JOB}_cluster.a` });
      assert.deepEqual(await s.listClusters(), [{ ...row, tag: `${JOB}_cluster.a` }, row2]);
    });

    it('releases: round trip, same content is a no-op, other content is an error', async () => {
      const s = await fresh();
      const r = release('abc123def', 0, { buildId: 4 });
      await s.putRelease(r);
      assert.deepEqual(await s.getRelease(JOB, 'abc123def'), r);
      assert.equal(await s.getRelease(JOB, 'zzz'), undefined);
      await s.putRelease({ ...r, createdAt: at(50) });
      assert.deepEqual(await s.getRelease(JOB, 'abc123def'), r);
      await assert.rejects(s.putRelease({ ...r, sha256: 'other' }), /already exists with other content/);
      assert.deepEqual(await s.getRelease(JOB, 'abc123def'), r);
      // signing: once, never replaced; a release stored signed keeps its signature
      const sig = { keyId: '0123456789abcdef', value: 'c2ln' };
      assert.equal(await s.setReleaseSignature(JOB, 'abc123def', sig), true);
      assert.equal(await s.setReleaseSignature(JOB, 'abc123def', { ...sig, value: 'b3RoZXI=' }), false);
      assert.equal(await s.setReleaseSignature(JOB, 'zzz', sig), false);
      assert.deepEqual(await s.getRelease(JOB, 'abc123def'), { ...r, signature: sig });
      await s.putRelease({ ...r, version: 'signed000', signature: sig });
      assert.deepEqual((await s.getRelease(JOB, 'signed000'))?.signature, sig);
    });

    it('releases: listed newest first, by job', async () => {
      const s = await fresh();
      await s.putRelease(release('v2', 20));
      await s.putRelease(release('v1', 10));
      await s.putRelease(release('v3', 30));
      await s.putRelease(release('o1', 40, { job: 'cop.x_job.other' }));
      assert.deepEqual(
        (await s.listReleases(JOB)).map((r) => r.version),
        ['v3', 'v2', 'v1'],
      );
      assert.deepEqual(
        (await s.listReleases()).map((r) => r.version),
        ['o1', 'v3', 'v2', 'v1'],
      );
      assert.deepEqual(await s.listReleases('cop.none_job.x'), []);
    });

    it('builds: create, partial update, append to the log', async () => {
      const s = await fresh();
      const id1 = await s.createBuild(build());
      const id2 = await s.createBuild(build({ ref: 'dev', log: 'start\n' }));
      assert.ok(id2 > id1);
      assert.deepEqual(await s.getBuild(id1), { id: id1, ...build() });
      await s.appendBuildLog(id2, 'line 1\n');
      await s.appendBuildLog(id2, "line 2 with 'quotes' and ünïcode\n");
      await s.appendBuildLog(id2, '');
      await s.updateBuild(id2, { status: 'succeeded', version: 'abc123def', endedAt: at(9) });
      await s.updateBuild(id2, {});
      assert.deepEqual(await s.getBuild(id2), {
        id: id2,
        ...build({ ref: 'dev', status: 'succeeded', version: 'abc123def', endedAt: at(9) }),
        log: "start\nline 1\nline 2 with 'quotes' and ünïcode\n",
      });
      await s.updateBuild(id1, { status: 'failed', error: 'boom', log: 'replaced' });
      assert.deepEqual(await s.getBuild(id1), { id: id1, ...build({ status: 'failed', error: 'boom', log: 'replaced' }) });
      assert.equal(await s.getBuild(9999), undefined);
    });

    it('builds: listed newest first, without logs, by status and job', async () => {
      const s = await fresh();
      const b1 = await s.createBuild(build({ log: 'long log' }));
      const b2 = await s.createBuild(build({ job: 'cop.x_job.other', status: 'failed', error: 'e' }));
      const b3 = await s.createBuild(build({ status: 'succeeded', version: 'abc123def', log: 'x' }));
      assert.deepEqual(await s.listBuilds(), [
        { id: b3, ...build({ status: 'succeeded', version: 'abc123def' }) },
        { id: b2, ...build({ job: 'cop.x_job.other', status: 'failed', error: 'e' }) },
        { id: b1, ...build() },
      ]);
      assert.deepEqual(
        (await s.listBuilds({ job: JOB })).map((b) => b.id),
        [b3, b1],
      );
      assert.deepEqual(
        (await s.listBuilds({ status: 'failed' })).map((b) => b.id),
        [b2],
      );
      assert.deepEqual(
        (await s.listBuilds({ job: JOB, status: 'running' })).map((b) => b.id),
        [b1],
      );
      assert.deepEqual(
        (await s.listBuilds({ limit: 2 })).map((b) => b.id),
        [b3, b2],
      );
      assert.equal((await s.getBuild(b1))?.log, 'long log');
    });

    it('build logs: appended in pieces; past the cap the head and the tail are kept, with a marker saying how much was cut', async () => {
      const s = await fresh();
      const id = await s.createBuild(build());
      const line = (i: number): string => `line ${String(i).padStart(7, '0')} ${'x'.repeat(50)}\n`; // 64 characters
      let whole = '';
      for (let batch = 0; batch < 40; batch++) {
        let text = '';
        for (let i = 0; i < 1000; i++) text += line(batch * 1000 + i);
        whole += text;
        await s.appendBuildLog(id, text);
      }
      const log = (await s.getBuild(id))!.log;
      assert.ok(whole.length > BUILD_LOG_HEAD_CHARS + BUILD_LOG_TAIL_CHARS);
      assert.ok(
        log.length <= BUILD_LOG_HEAD_CHARS + BUILD_LOG_TAIL_CHARS + 2 * BUILD_LOG_PIECE_CHARS + 300,
        `${log.length} characters kept`,
      );
      assert.ok(log.startsWith(whole.slice(0, BUILD_LOG_HEAD_CHARS)), 'the head is kept');
      assert.ok(log.endsWith(whole.slice(-BUILD_LOG_TAIL_CHARS)), 'the tail is kept');
      const cut = /\[\.\.\. (\d+) characters of this log were cut here/.exec(log);
      assert.ok(cut, 'a marker says so');
      const marker = log.indexOf('\n[...');
      assert.equal(Number(cut[1]), whole.length - (log.length - (log.indexOf('...]\n') + 5)) - marker, 'the marker counts what is missing');
      // A reader that follows by position reads on from where it was, to the end of the whole log.
      const tail = await s.readBuildLog(id, whole.length - 64);
      assert.deepEqual(tail, { text: whole.slice(-64), end: whole.length });
      assert.deepEqual(await s.readBuildLog(id, whole.length), { text: '', end: whole.length });
      // a reader's position past any log (a client asking for "the end") or not whole reads nothing, never an error
      assert.deepEqual(await s.readBuildLog(id, Number.MAX_SAFE_INTEGER), { text: '', end: Number.MAX_SAFE_INTEGER });
      assert.deepEqual(await s.readBuildLog(id, whole.length - 0.5), { text: whole.slice(-1), end: whole.length });
    });

    it('deployments: round trip, partial update, newest first with filters', async () => {
      const s = await fresh();
      const d1 = await s.createDeployment(deployment());
      assert.deepEqual(await s.getDeployment(d1), { id: d1, ...deployment() });
      await s.updateDeployment(d1, { status: 'succeeded', endedAt: at(60), hostResults: { h1: 'succeeded', h2: 'failed: port closed' } });
      assert.deepEqual(await s.getDeployment(d1), {
        id: d1,
        ...deployment({ status: 'succeeded', endedAt: at(60), hostResults: { h1: 'succeeded', h2: 'failed: port closed' } }),
      });
      const progress = { batches: [['h1'], ['h2']], phase: 'deploying', hosts: { h1: { state: 'succeeded' } } };
      await s.updateDeployment(d1, { progress });
      assert.deepEqual((await s.getDeployment(d1))?.progress, progress);
      const { progress: _omitted, ...withoutProgress } = deployment();
      const d0 = await s.createDeployment(withoutProgress);
      assert.deepEqual((await s.getDeployment(d0))?.progress, {}, 'progress defaults to {}');
      const d2 = await s.createDeployment(deployment({ tag: `${JOB}_cluster.b`, kind: 'rollback' }));
      const d3 = await s.createDeployment(deployment({ status: 'failed', message: 'timeout' }));
      assert.deepEqual(
        (await s.listDeployments()).map((d) => d.id),
        [d3, d2, d0, d1],
      );
      assert.deepEqual(
        (await s.listDeployments({ tag: CLUSTER })).map((d) => d.id),
        [d3, d0, d1],
      );
      assert.deepEqual(
        (await s.listDeployments({ tag: CLUSTER, status: 'failed' })).map((d) => d.id),
        [d3],
      );
      assert.deepEqual(
        (await s.listDeployments({ limit: 2 })).map((d) => d.id),
        [d3, d2],
      );
      assert.equal((await s.listDeployments({ limit: 1, tag: `${JOB}_cluster.b` }))[0].kind, 'rollback');
      assert.equal(await s.getDeployment(9999), undefined);
    });

    it("deployments: a host's changes are rows of their own, merged over the columns when read", async () => {
      const s = await fresh();
      const head = { batches: [['h1'], ['h2']], phase: 'deploying', hosts: {} };
      const d = await s.createDeployment(deployment({ progress: head, hostResults: { h1: 'queued', h2: 'queued' } }));
      const other = await s.createDeployment(deployment({ tag: `${JOB}_cluster.b`, progress: head }));
      await s.updateDeployment(d, { hostChanges: [{ host: 'h1', progress: { state: 'deploying' }, result: 'deploying' }] });
      // the last change of a host wins, within a patch and across patches; the columns change with them
      await s.updateDeployment(d, {
        progress: { ...head, phase: 'waiting' },
        hostChanges: [
          { host: 'h1', progress: { state: 'healthy' }, result: 'healthy' },
          { host: 'h1', progress: { state: 'succeeded' }, result: 'succeeded' },
          { host: 'h2', progress: { state: 'failed', reason: 'port closed' }, result: 'failed: port closed' },
        ],
      });
      const read = await s.getDeployment(d);
      assert.deepEqual(read?.progress, {
        ...head,
        phase: 'waiting',
        hosts: { h1: { state: 'succeeded' }, h2: { state: 'failed', reason: 'port closed' } },
      });
      assert.deepEqual(read?.hostResults, { h1: 'succeeded', h2: 'failed: port closed' });
      assert.deepEqual((await s.listDeployments({ tag: CLUSTER }))[0]?.progress, read?.progress, 'a list merges them too');
      assert.deepEqual((await s.getDeployment(other))?.progress, head, "another deployment's hosts are its own");
    });

    it('the running deployment of a cluster (its lock holder): the newest running one, without its JSON', async () => {
      const s = await fresh();
      assert.equal(await s.findRunningDeployment(CLUSTER), undefined);
      await s.createDeployment(deployment({ status: 'succeeded', endedAt: at(5) }));
      const other = await s.createDeployment(deployment({ tag: `${JOB}_cluster.b` }));
      assert.equal(await s.findRunningDeployment(CLUSTER), undefined, "an ended one and another cluster's do not lock it");
      const running = await s.createDeployment(deployment({ kind: 'rollback', initiator: 'bob', startedAt: at(9) }));
      assert.deepEqual(await s.findRunningDeployment(CLUSTER), {
        id: running,
        tag: CLUSTER,
        version: 'abc123def',
        kind: 'rollback',
        initiator: 'bob',
        startedAt: at(9),
      });
      assert.equal((await s.findRunningDeployment(`${JOB}_cluster.b`))?.id, other);
      await s.updateDeployment(running, { status: 'failed', endedAt: at(20) });
      assert.equal(await s.findRunningDeployment(CLUSTER), undefined, 'ended: unlocked');
    });

    it("the deploy lock is the database's: of two stores creating a running deployment of one tag at once, exactly one wins", async () => {
      // two stores on one database: two servers (on PostgreSQL, two pools racing for real)
      const url = await backend.freshUrl();
      const [a, b] = [await openStore(url), await openStore(url)];
      open.push(a, b);
      const results = await Promise.allSettled(
        [a, b].map((s, i) =>
          s.tx(async (t) => {
            const id = await t.createDeployment(deployment({ initiator: `server-${i}` }));
            await t.audit({ at: at(0), actor: `server-${i}`, action: 'deploy', target: CLUSTER, detail: { deployment: id } });
            return id;
          }),
        ),
      );
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as NoopsError] : []));
      assert.equal(won.length, 1, 'one wins');
      assert.equal(lost.length, 1, 'one is refused');
      assert.ok(lost[0] instanceof NoopsError, String(lost[0]));
      assert.equal(lost[0].code, 'NOOPS_E_DEPLOY_LOCKED');
      assert.match(lost[0].message, new RegExp(`another deployment of ${CLUSTER} is running`));
      assert.deepEqual(
        (await a.listDeployments({ tag: CLUSTER })).map((d) => d.id),
        won,
        'the refused one wrote nothing',
      );
      assert.deepEqual(
        (await b.listAudit()).map((e) => e.detail),
        [{ deployment: won[0] }],
        'nor its audit entry',
      );
      assert.equal((await b.findRunningDeployment(CLUSTER))?.id, won[0]);
      // ended and not running deployments do not hold it; another cluster has its own lock
      await a.createDeployment(deployment({ status: 'failed', endedAt: at(3) }));
      assert.ok(await b.createDeployment(deployment({ tag: `${JOB}_cluster.b` })));
      await assert.rejects(b.createDeployment(deployment()), { code: 'NOOPS_E_DEPLOY_LOCKED' });
      await a.updateDeployment(won[0], { status: 'succeeded', endedAt: at(9) });
      const next = await b.createDeployment(deployment({ version: 'fff999eee', startedAt: at(10) }));
      assert.equal((await a.findRunningDeployment(CLUSTER))?.id, next, 'after it ended, a new one may start');
    });

    it('0011_deploy_lock on a database that already holds two running deployments of one tag: the oldest keeps running, the others fail', async () => {
      const url = await backend.freshUrl();
      const target = parseStoreUrl(url);
      let db: Kysely<Database>;
      if (target.backend === 'sqlite') {
        mkdirSync(dirname(target.path), { recursive: true });
        db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(target.path) }) });
      } else {
        db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
      }
      try {
        const migrated = await new Migrator({ db, provider: migrationProvider(backend.name) }).migrateTo('0010_rollout_lock');
        assert.equal(migrated.error, undefined);
        for (const row of [
          deployment({ initiator: 'first' }),
          deployment({ tag: `${JOB}_cluster.b` }),
          deployment({ initiator: 'second' }),
          deployment({ initiator: 'third' }),
          deployment({ status: 'succeeded', endedAt: at(5) }),
        ])
          await db.insertInto('deployments').values(deploymentToDb(row)).execute();
      } finally {
        await db.destroy();
      }
      const s = await openStore(url);
      open.push(s);
      const rows = (await s.listDeployments()).reverse();
      assert.deepEqual(
        rows.map((d) => [d.tag === CLUSTER ? 'prod' : 'b', d.initiator, d.status]),
        [
          ['prod', 'first', 'running'],
          ['b', 'admin', 'running'],
          ['prod', 'second', 'failed'],
          ['prod', 'third', 'failed'],
          ['prod', 'admin', 'succeeded'],
        ],
      );
      const [first, , second] = rows;
      assert.equal(
        second.message,
        `ended by migration 0011_deploy_lock: deployment #${first.id} was already running on ${CLUSTER} (one running deployment per cluster)`,
      );
      assert.ok(second.endedAt, 'it ended');
      assert.equal((await s.findRunningDeployment(CLUSTER))?.id, first.id);
      await assert.rejects(s.createDeployment(deployment()), { code: 'NOOPS_E_DEPLOY_LOCKED' }, 'and from now on the index holds the lock');
    });

    it('hosts by name: those that exist, sorted, in batches past BATCH_ROWS names', async () => {
      const s = await fresh();
      for (const name of ['hb', 'ha']) await s.upsertHost({ name, labels: { zone: name }, address: null, joinedAt: at(0) });
      assert.deepEqual(
        (await s.listHostsNamed(['hb', 'nope', 'ha', 'hb'])).map((h) => [h.name, h.labels.zone]),
        [
          ['ha', 'ha'],
          ['hb', 'hb'],
        ],
      );
      assert.deepEqual(await s.listHostsNamed([]), []);
      const many = Array.from({ length: 1200 }, (_, i) => `n${i}`);
      assert.deepEqual(
        (await s.listHostsNamed([...many, 'ha'])).map((h) => h.name),
        ['ha'],
      );
      // their names alone: the joined ones, sorted, each once, past a batch of names
      assert.deepEqual(await s.joinedHostNames(['hb', 'nope', 'ha', 'hb']), ['ha', 'hb']);
      assert.deepEqual(await s.joinedHostNames([]), []);
      assert.deepEqual(await s.joinedHostNames(['hb', ...many, 'hb', 'ha']), ['ha', 'hb'], 'hb named in two batches: once');
    });

    it('desired: generations bump per host; null clears one entry', async () => {
      const s = await fresh();
      assert.deepEqual(await s.getDesired('h1'), { generation: 0, entries: [] });
      const a = desired('h1', CLUSTER, 'v1');
      const b = desired('h1', `${JOB}_cluster.b`, 'v1', { deploymentId: null });
      assert.equal(await s.setDesired('h1', CLUSTER, a), 1);
      assert.equal(await s.setDesired('h1', b.tag, b), 2);
      assert.equal(await s.setDesired('h2', CLUSTER, desired('h2', CLUSTER, 'v1')), 1);
      const a2 = desired('h1', CLUSTER, 'v2', { updatedAt: at(9), manifest: { env: { X: 'y' } }, kind: 'rollback' });
      assert.equal(await s.setDesired('h1', CLUSTER, a2), 3);
      // entries come sorted by tag
      assert.deepEqual(await s.getDesired('h1'), { generation: 3, entries: [b, a2] });
      assert.equal(await s.setDesired('h1', b.tag, null), 4);
      assert.deepEqual(await s.getDesired('h1'), { generation: 4, entries: [a2] });
      // clearing what is not there still bumps: the agent is told to look again
      assert.equal(await s.setDesired('h3', CLUSTER, null), 1);
      assert.deepEqual(await s.getDesired('h3'), { generation: 1, entries: [] });
      assert.deepEqual(await s.listDesired(CLUSTER), [a2, desired('h2', CLUSTER, 'v1')]);
      assert.equal((await s.listDesired()).length, 2);
      assert.deepEqual(await s.listDesired('cop.none'), []);
      // the heads: every column but the manifest and when it was written, by host
      const head = ({ manifest: _m, updatedAt: _u, ...rest }: DesiredRow) => rest;
      assert.deepEqual(await s.listDesiredHeads(CLUSTER), [head(a2), head(desired('h2', CLUSTER, 'v1'))]);
      assert.equal((await s.listDesiredHeads(CLUSTER))[0]!.kind, 'rollback');
      assert.deepEqual(await s.listDesiredHeads('cop.none'), []);
      await assert.rejects(s.setDesired('h1', CLUSTER, desired('h2', CLUSTER, 'v1')), /given a row for h2/);
      assert.equal((await s.getDesired('h1')).generation, 4);
    });

    it('desired: concurrent setDesired calls get distinct generations', async () => {
      const url = await backend.freshUrl();
      // several stores = several connections (pools on PostgreSQL, file handles on SQLite)
      const stores = await Promise.all([openStore(url), openStore(url), openStore(url)]);
      open.push(...stores);
      const calls = Array.from({ length: 30 }, (_, i) => {
        const tag = `${JOB}_cluster.c${i % 5}`;
        return stores[i % stores.length].setDesired('h1', tag, desired('h1', tag, `v${i}`));
      });
      const gens = await Promise.all(calls);
      assert.deepEqual(
        [...gens].sort((x, y) => x - y),
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      const got = await stores[0].getDesired('h1');
      assert.equal(got.generation, 30);
      assert.equal(got.entries.length, 5);
    });

    it('instances: replaceInstances replaces one host, listInstances filters', async () => {
      const s = await fresh();
      await s.replaceInstances('h1', [
        instance('h1', 'web'),
        instance('h1', 'worker', { pid: null, port: null, state: 'failed', error: 'exit 1', restarts: 3, startedAt: null }),
      ]);
      await s.replaceInstances('h2', [instance('h2', 'web', { tag: `${JOB}_cluster.b` })]);
      assert.deepEqual(await s.listInstances({ host: 'h1' }), [
        instance('h1', 'web'),
        instance('h1', 'worker', { pid: null, port: null, state: 'failed', error: 'exit 1', restarts: 3, startedAt: null }),
      ]);
      await s.replaceInstances('h1', [instance('h1', 'web', { version: 'v2', pid: 99 })]);
      assert.deepEqual(await s.listInstances({ host: 'h1' }), [instance('h1', 'web', { version: 'v2', pid: 99 })]);
      assert.deepEqual(await s.listInstances({ tag: CLUSTER }), [instance('h1', 'web', { version: 'v2', pid: 99 })]);
      assert.deepEqual(await s.listInstances({ tag: CLUSTER, host: 'h2' }), []);
      assert.equal((await s.listInstances()).length, 2);
      await s.replaceInstances('h1', []);
      assert.deepEqual(
        (await s.listInstances()).map((i) => i.host),
        ['h2'],
      );
      await assert.rejects(s.replaceInstances('h1', [instance('h2', 'web')]), /row of host h2/);
      assert.deepEqual(
        (await s.listInstances()).map((i) => i.host),
        ['h2'],
      );
    });

    it('audit: newest first, by action, limited', async () => {
      const s = await fresh();
      await s.audit({ at: at(1), actor: 'admin', action: 'build', target: JOB, detail: { ref: 'main' } });
      await s.audit({ at: at(2), actor: 'admin', action: 'deploy', target: CLUSTER, detail: { version: 'v1', hosts: ['h1'] } });
      await s.audit({ at: at(3), actor: 'team-a', action: 'deploy', target: CLUSTER, detail: {} });
      const all = await s.listAudit();
      assert.deepEqual(
        all.map((a) => a.at),
        [at(3), at(2), at(1)],
      );
      assert.ok(all[0].id > all[1].id);
      assert.deepEqual(all[1], {
        id: all[1].id,
        at: at(2),
        actor: 'admin',
        action: 'deploy',
        target: CLUSTER,
        detail: { version: 'v1', hosts: ['h1'] },
      });
      assert.deepEqual(
        (await s.listAudit({ action: 'deploy' })).map((a) => a.actor),
        ['team-a', 'admin'],
      );
      assert.deepEqual(
        (await s.listAudit({ limit: 1 })).map((a) => a.action),
        ['deploy'],
      );
      assert.deepEqual(await s.listAudit({ action: 'token.create' }), []);
    });

    it('secrets: version 1, then one more per set; listed by scope; deleted once', async () => {
      const s = await fresh();
      const row = { scope: 'cop.acme', name: 'db', sealed: 'v1:AAAA', keyId: 'k1', updatedBy: 'admin', updatedAt: at(1) };
      assert.deepEqual(await s.putSecret(row), { ...row, version: 1, createdAt: at(1) });
      const second = await s.putSecret({ ...row, sealed: 'v1:BBBB', updatedBy: 'team-a', updatedAt: at(2) });
      assert.deepEqual(second, { ...row, sealed: 'v1:BBBB', updatedBy: 'team-a', updatedAt: at(2), version: 2, createdAt: at(1) });
      await s.putSecret({ ...row, scope: 'cop.acme_owt.web', updatedAt: at(3) });
      await s.putSecret({ ...row, name: 'api-key', updatedAt: at(3) });
      assert.deepEqual(
        (await s.listSecrets()).map((r) => `${r.scope}/${r.name}@${r.version}`),
        ['cop.acme/api-key@1', 'cop.acme/db@2', 'cop.acme_owt.web/db@1'],
      );
      assert.deepEqual(
        (await s.listSecrets('db')).map((r) => r.scope),
        ['cop.acme', 'cop.acme_owt.web'],
      );
      assert.equal((await s.getSecret('cop.acme', 'db'))?.sealed, 'v1:BBBB');
      assert.equal(await s.deleteSecret('cop.acme', 'db'), true);
      assert.equal(await s.deleteSecret('cop.acme', 'db'), false);
      assert.equal(await s.getSecret('cop.acme', 'db'), undefined);
    });
  });
}
