/**
 * Desired rows' manifests kept once (0035_desired_manifests), on both backends: SQLite (a file in
 * a temp folder) and PostgreSQL when NOOPS_TEST_PG_URL is set. A deploy's rows name one kept
 * manifest; every read gives the manifest back (from the store, and from memory); a row written
 * before 0035 keeps its own copy; a read that a prune overtook reads again; a manifest no row
 * names goes after MANIFEST_UNUSED_MS, one a write named again stays; a kept text that does not
 * match its name is refused; going down puts every row's copy back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  forgetManifestsByHash,
  keepManifests,
  MANIFEST_UNUSED_MS,
  manifestHash,
  pruneDesiredManifests,
  pruneManifestsEvery,
} from './desired-manifests.js';
import { getDesired, getDesiredMany, listDesired, setDesiredMany } from './desired.js';
import { migrationProvider, type Backend } from './migrations.js';
import { openStore, parseStoreUrl } from './open.js';
import type { Database } from './schema.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';
import type { DesiredRow } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-desired-manifests-'));
const dbs: TestDatabase[] = [];
after(async () => {
  for (const db of dbs) await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const TAG = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.prod';
const manifestOf = (version: string): Record<string, unknown> => ({
  name: 'api',
  processes: [{ name: 'web', command: './web', env: { VERSION: version, MODE: 'prod' } }],
});
const rowsOf = (hosts: readonly string[], version: string, manifest = manifestOf(version)): { host: string; row: DesiredRow }[] =>
  hosts.map((host) => ({
    host,
    row: {
      host,
      tag: TAG,
      version,
      sha256: `sha-${version}`,
      manifest,
      deploymentId: 1,
      updatedAt: '2026-12-08T00:00:00.000Z',
      kind: null,
    },
  }));

/** A raw kysely on `url`, migrated up to `to` (the latest when not given). */
async function migrated(url: string, backend: Backend, to?: string): Promise<Kysely<Database>> {
  const target = parseStoreUrl(url);
  const db =
    target.backend === 'sqlite'
      ? new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(target.path) }) })
      : new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }) });
  const migrator = new Migrator({ db, provider: migrationProvider(backend) });
  const done = to === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(to);
  assert.equal(done.error, undefined);
  return db;
}

const kept = async (db: Kysely<Database>): Promise<string[]> =>
  (await db.selectFrom('desired_manifests').select('hash').orderBy('hash').execute()).map((r) => r.hash);

function behaves(backend: Backend, freshUrl: () => Promise<string>): void {
  it("a deploy's rows name one kept manifest, and every read gives it back, from the store and from memory", async () => {
    const db = await migrated(await freshUrl(), backend);
    try {
      const hosts = ['h1', 'h2', 'h3'];
      await setDesiredMany(db, TAG, rowsOf(hosts, 'v1'));
      const hash = manifestHash(JSON.stringify(manifestOf('v1')));
      assert.deepEqual(await kept(db), [hash]);
      const raw = await db.selectFrom('desired').select(['host', 'manifest', 'manifest_hash']).orderBy('host').execute();
      assert.deepEqual(
        raw,
        hosts.map((host) => ({ host, manifest: '', manifest_hash: hash })),
        'no row holds a copy',
      );
      for (const fromStore of [true, false]) {
        if (fromStore) forgetManifestsByHash();
        assert.deepEqual((await getDesired(db, 'h2')).entries[0]!.manifest, manifestOf('v1'));
        const many = await getDesiredMany(db, hosts);
        for (const h of hosts) assert.deepEqual(many.get(h)!.entries[0]!.manifest, manifestOf('v1'), h);
        assert.deepEqual(
          (await listDesired(db, TAG)).map((d) => [d.host, d.manifest]),
          hosts.map((h) => [h, manifestOf('v1')]),
        );
      }
      // one object for every row that names the manifest (the answers share what they build from it)
      const many = await getDesiredMany(db, hosts);
      assert.equal(many.get('h1')!.entries[0]!.manifest, many.get('h3')!.entries[0]!.manifest);
      // a new release: its manifest is kept beside the old one until a prune
      await setDesiredMany(db, TAG, rowsOf(hosts, 'v2'));
      assert.equal((await kept(db)).length, 2);
      forgetManifestsByHash();
      assert.deepEqual((await getDesired(db, 'h1')).entries[0]!.manifest, manifestOf('v2'));
    } finally {
      await db.destroy();
    }
  });

  it('a row written before 0035 keeps its own copy and reads beside the rows that name theirs; going down puts the copies back', async () => {
    const url = await freshUrl();
    let db = await migrated(url, backend, '0034_staged_packages');
    const old = { name: 'api', processes: [{ name: 'web', command: './old' }] };
    try {
      await db.insertInto('desired_generation').values({ host: 'h0', generation: 1 }).execute();
      await db
        .insertInto('desired')
        .values({
          host: 'h0',
          tag: TAG,
          version: 'v0',
          sha256: 'sha-v0',
          manifest: JSON.stringify(old),
          deployment_id: null,
          updated_at: '2026-12-01T00:00:00.000Z',
          kind: null,
          driver: null,
          replicas: null,
        } as never)
        .execute();
    } finally {
      await db.destroy();
    }
    db = await migrated(url, backend);
    try {
      await setDesiredMany(db, TAG, rowsOf(['h1'], 'v1'));
      forgetManifestsByHash();
      const many = await getDesiredMany(db, ['h0', 'h1']);
      assert.deepEqual(many.get('h0')!.entries[0]!.manifest, old);
      assert.deepEqual(many.get('h1')!.entries[0]!.manifest, manifestOf('v1'));
      assert.deepEqual(
        (await listDesired(db)).map((d) => [d.host, d.manifest]),
        [
          ['h0', old],
          ['h1', manifestOf('v1')],
        ],
      );
      const down = await new Migrator({ db, provider: migrationProvider(backend) }).migrateTo('0034_staged_packages');
      assert.equal(down.error, undefined);
      const rows = await db.selectFrom('desired').select(['host', 'manifest']).orderBy('host').execute();
      assert.deepEqual(
        rows.map((r) => [r.host, JSON.parse(r.manifest)]),
        [
          ['h0', old],
          ['h1', manifestOf('v1')],
        ],
      );
    } finally {
      await db.destroy();
    }
  });

  it('a manifest no row names goes once unused for long enough; one a write named again, or a row still names, stays', async () => {
    const db = await migrated(await freshUrl(), backend);
    try {
      const hosts = ['h1', 'h2'];
      const v1 = manifestHash(JSON.stringify(manifestOf('v1')));
      const v2 = manifestHash(JSON.stringify(manifestOf('v2')));
      await setDesiredMany(db, TAG, rowsOf(hosts, 'v1'));
      await setDesiredMany(db, TAG, rowsOf(hosts, 'v2'));
      const past = '2000-01-01T00:00:00.000Z';
      const future = '2999-01-01T00:00:00.000Z';
      // used just now: a prune of what went unused before the year 2000 keeps both
      assert.equal(await pruneDesiredManifests(db, past), 0);
      assert.deepEqual(await kept(db), [v1, v2].sort());
      // v1 is named by no row: it goes; v2 is named by both rows: it stays, however old
      assert.equal(await pruneDesiredManifests(db, future), 1);
      assert.deepEqual(await kept(db), [v2]);
      // a rollback names v1 again: kept again, and read back from the store
      await setDesiredMany(db, TAG, rowsOf(['h1'], 'v1'));
      forgetManifestsByHash();
      assert.deepEqual((await getDesired(db, 'h1')).entries[0]!.manifest, manifestOf('v1'));
      // a write that names an unnamed, old manifest marks it used first (in its transaction): a
      // prune beside it, of what went unused before the write, keeps it
      await setDesiredMany(db, TAG, rowsOf(['h1'], 'v2')); // v1 named by none
      await db.updateTable('desired_manifests').set({ used_at: past }).execute();
      const now = new Date().toISOString();
      await keepManifests(db, new Map([[v1, JSON.stringify(manifestOf('v1'))]]), now);
      assert.equal(await pruneDesiredManifests(db, now), 0);
      assert.deepEqual(await kept(db), [v1, v2].sort());
    } finally {
      await db.destroy();
    }
  });

  it("the store's prune (what every server runs on its timer) deletes what no row has named for long enough, and what a deploy's writes left", async () => {
    const url = await freshUrl();
    const db = await migrated(url, backend);
    const store = await openStore(url);
    const v1 = manifestHash(JSON.stringify(manifestOf('v1')));
    const v2 = manifestHash(JSON.stringify(manifestOf('v2')));
    try {
      // written through the store, as the rollout writes (in its transactions)
      await store.tx((s) => s.setDesiredMany(TAG, rowsOf(['h1', 'h2'], 'v1')));
      await store.setDesiredMany(TAG, rowsOf(['h1', 'h2'], 'v2'));
      assert.deepEqual(await kept(db), [v1, v2].sort(), 'the writes prune nothing');
      assert.equal(await store.pruneDesiredManifests(new Date(Date.now() - MANIFEST_UNUSED_MS).toISOString()), 0, 'v1 was used just now');
      await db.updateTable('desired_manifests').set({ used_at: '2000-01-01T00:00:00.000Z' }).execute();
      assert.equal(await store.pruneDesiredManifests(new Date(Date.now() - MANIFEST_UNUSED_MS).toISOString()), 1);
      assert.deepEqual(await kept(db), [v2]);
      assert.deepEqual((await store.getDesired('h2')).entries[0]!.manifest, manifestOf('v2'));
    } finally {
      await store.close();
      await db.destroy();
    }
  });

  it('a read whose manifest went between its two statements reads again, and gives the manifest its rows name now', async () => {
    const url = await freshUrl();
    const db = await migrated(url, backend);
    const other = await migrated(url, backend); // another connection: another server, deploying and pruning
    try {
      const hosts = ['h1', 'h2'];
      await setDesiredMany(db, TAG, rowsOf(hosts, 'v1'));
      forgetManifestsByHash(); // v1 from the store, not from this process's memory
      // Between the rows' statement of the read (its answer: rows with `gen_host`) and its manifests'
      // statement, once: the other server deploys v2 to both hosts and prunes v1, named by no row now.
      let raced = 0;
      const racing = db.withPlugin({
        transformQuery: (args) => args.node,
        async transformResult(args) {
          const first = args.result.rows[0] as Record<string, unknown> | undefined;
          if (raced === 0 && first !== undefined && 'gen_host' in first) {
            raced++;
            await setDesiredMany(other, TAG, rowsOf(hosts, 'v2'));
            await other.updateTable('desired_manifests').set({ used_at: '2000-01-01T00:00:00.000Z' }).execute();
            assert.equal(await pruneDesiredManifests(other, '2999-01-01T00:00:00.000Z'), 1, 'v1 pruned');
            forgetManifestsByHash(); // as on a server that never held v2
          }
          return args.result;
        },
      });
      const many = await getDesiredMany(racing, hosts);
      assert.equal(raced, 1, 'the race happened');
      for (const h of hosts) {
        assert.equal(many.get(h)!.entries[0]!.version, 'v2', h);
        assert.deepEqual(many.get(h)!.entries[0]!.manifest, manifestOf('v2'), h);
      }
    } finally {
      await other.destroy();
      await db.destroy();
    }
  });

  it('a kept text that does not match its name is refused, not read as another manifest', async () => {
    const db = await migrated(await freshUrl(), backend);
    try {
      await setDesiredMany(db, TAG, rowsOf(['h1'], 'v1'));
      await db
        .updateTable('desired_manifests')
        .set({ manifest: JSON.stringify(manifestOf('evil')) })
        .execute();
      forgetManifestsByHash();
      await assert.rejects(getDesired(db, 'h1'), /does not match its hash/);
      // and a name no kept text has
      await db.deleteFrom('desired_manifests').execute();
      await assert.rejects(getDesiredMany(db, ['h1']), /no longer kept/);
    } finally {
      await db.destroy();
    }
  });
}

describe("every server's prune of desired manifests", () => {
  it('prunes at once and then every period, given the time MANIFEST_UNUSED_MS ago; a failure is warned and the next one runs; stopped, it waits for the running one and starts none', async () => {
    const asked: string[] = [];
    const warnings: string[] = [];
    let fail = true;
    let release!: () => void;
    let held: Promise<void> | undefined;
    const now = Date.parse('2026-12-08T03:00:00.000Z');
    const stop = pruneManifestsEvery(
      async (before) => {
        asked.push(before);
        if (fail) {
          fail = false;
          throw new Error('database is locked');
        }
        if (asked.length === 3) {
          held = new Promise<void>((r) => {
            release = r;
          });
          await held;
        }
        return 0;
      },
      { everyMs: 20, now: () => now, warn: (m) => warnings.push(m) },
    );
    assert.deepEqual(asked, [new Date(now - MANIFEST_UNUSED_MS).toISOString()], 'at once');
    const deadline = Date.now() + 10_000;
    while (asked.length < 3) {
      if (Date.now() > deadline) assert.fail(`only ${asked.length} prunes`);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.match(warnings[0] ?? '', /the prune failed \(the next one tries again\): database is locked/);
    // the third is running (held): stopping waits for it, and no other starts meanwhile
    let stopped = false;
    const stopping = stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(stopped, false, 'waits for the prune running');
    release();
    await stopping;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(asked.length, 3, 'none after the stop');
  });
});

describe('desired manifests on sqlite', () => {
  let n = 0;
  behaves('sqlite', async () => `sqlite:${join(dir, `t${++n}.db`)}`);
});

describe('desired manifests on postgres', { skip: NEEDS_PG }, () => {
  behaves('postgres', async () => {
    const db = await testDatabase('noops_desired_manifests');
    dbs.push(db);
    return db.url;
  });
});
