/**
 * Opening a database: parse the store URL, build the kysely dialect for it, run migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { PatientSqliteDriver, SQLITE_BUSY_TIMEOUT_MS } from './patient-sqlite.js';
import { migrationProvider, type Backend } from './migrations.js';
import { cachingStatements } from './statement-cache.js';
import type { Database } from './schema.js';
import { NoopsError } from '../errors/index.js';

/** Where a store lives, parsed from its URL. */
import { KyselyStore } from './kysely-store.js';
import type { Store } from './types.js';

export type StoreTarget =
  | { backend: 'sqlite' /** absolute file path, or ':memory:' */; path: string }
  | { backend: 'postgres'; url: string };

/**
 * While opening (before the server serves anything) SQLite may wait this long, synchronously,
 * for another process's migration or lock. Serving, it waits asynchronously (patient-sqlite.ts).
 */
export const SQLITE_OPEN_BUSY_TIMEOUT_MS = 5000;

/**
 * Connections per server process. Every store call is one short statement or one short
 * transaction, so a few connections keep up; several servers may share one PostgreSQL
 * (default max_connections 100), so stay well below that.
 */
export const PG_POOL_MAX = 10;

/**
 * Parses a store URL: `sqlite:/abs/path/noops.db` (also `sqlite:///abs/path`, `sqlite::memory:`),
 * a plain file path ending in `.db`, or `postgres://` / `postgresql://`. Anything else is a
 * NOOPS_E_STORE_URL whose message names only the scheme (the URL may carry a password).
 *
 * @example
 *   parseStoreUrl('sqlite:/var/lib/noops/noops.db') // { backend: 'sqlite', path: '/var/lib/noops/noops.db' }
 *   parseStoreUrl('postgres://noops:pw@db:5432/noops') // { backend: 'postgres', url: ... }
 */
export function parseStoreUrl(url: string): StoreTarget {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // Name only the scheme in the error: the URL may carry a password.
    if (!URL.canParse(url))
      throw new NoopsError(
        'NOOPS_E_STORE_URL',
        'the postgres:// store URL is not a valid URL (check the port, and percent-encode special characters in the password)',
      );
    return { backend: 'postgres', url };
  }
  if (/^sqlite:/i.test(url)) {
    let path = url.slice('sqlite:'.length);
    if (path === ':memory:') return { backend: 'sqlite', path };
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path -> /abs/path
    if (path === '') throw new NoopsError('NOOPS_E_STORE_URL', `store URL "${url}" names no file; use sqlite:/abs/path/noops.db`);
    return { backend: 'sqlite', path: resolve(path) };
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && url.endsWith('.db')) return { backend: 'sqlite', path: resolve(url) };
  // Name only the scheme: the URL may carry a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new NoopsError(
    'NOOPS_E_STORE_URL',
    `unsupported store URL${scheme ? ` scheme "${scheme}:"` : ` "${url}"`}; ` +
      'use sqlite:/abs/path/noops.db, a path ending in .db, or postgres://user:pass@host:5432/db',
  );
}

/** An open, migrated database; `close` releases this opener's hold on it. */
export interface OpenDatabase {
  db: Kysely<Database>;
  close(): Promise<void>;
}

/**
 * SQLite files open in this process, shared by every opener. better-sqlite3 waits for a lock
 * synchronously, so two handles on one file in one process deadlock whenever one waits inside
 * an async transaction of the other (until busy_timeout). One handle per file, whose kysely
 * mutex serializes its users, avoids that.
 */
const openSqlite = new Map<string, { ready: Promise<Kysely<Database>>; refs: number }>();

/**
 * Opens the target and brings its schema up to date.
 *
 * On SQLite the whole migration runs inside one `BEGIN IMMEDIATE` transaction: kysely neither
 * locks nor wraps migrations in a transaction there (it assumes one connection), but two
 * processes may open one file at once, and a crash half-way must not leave a half-made schema.
 * So a migration must not open a transaction of its own.
 */
export async function openDatabase(target: StoreTarget): Promise<OpenDatabase> {
  if (target.backend === 'postgres') {
    const db = await openPostgres(target.url);
    return { db, close: () => db.destroy() };
  }
  if (target.path === ':memory:') {
    const db = await openSqliteFile(target.path);
    return { db, close: () => db.destroy() };
  }
  const { path } = target;
  let entry = openSqlite.get(path);
  if (entry === undefined) {
    const ready = openSqliteFile(path);
    entry = { ready, refs: 0 };
    openSqlite.set(path, entry);
    // A failed open is not shared: the next opener tries again.
    const failed = entry;
    ready.catch(() => {
      if (openSqlite.get(path) === failed) openSqlite.delete(path);
    });
  }
  entry.refs += 1;
  const shared = entry;
  let db: Kysely<Database>;
  try {
    db = await shared.ready;
  } catch (error) {
    shared.refs -= 1;
    throw error;
  }
  let closed = false;
  return {
    db,
    async close() {
      if (closed) return;
      closed = true;
      shared.refs -= 1;
      if (shared.refs > 0) return;
      if (openSqlite.get(path) === shared) openSqlite.delete(path);
      await db.destroy();
    },
  };
}

async function openPostgres(url: string): Promise<Kysely<Database>> {
  const pool = new pg.Pool({ connectionString: url, max: PG_POOL_MAX, application_name: 'noops' });
  // An idle connection that breaks (server restart, network) is reported here and dropped from
  // the pool; the next query opens a new one, and a real outage surfaces as query errors.
  // Without a listener, Node would crash the process on this 'error' event.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // kysely takes an advisory lock and runs the migrations in one transaction on PostgreSQL.
  await closeOnError(db, () => migrate(db, 'postgres'));
  return db;
}

async function openSqliteFile(path: string): Promise<Kysely<Database>> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path, { timeout: SQLITE_OPEN_BUSY_TIMEOUT_MS });
  // Migrations run on kysely's own driver, on this one handle, inside the BEGIN IMMEDIATE below.
  const migrating = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    // WAL: readers do not block the writer; NORMAL is durable across process crashes (only
    // a power loss can drop the last commits), and much cheaper than FULL for heartbeats.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.exec('begin immediate'); // waits (the open timeout) for another process's migration
    try {
      await migrate(migrating, 'sqlite');
      sqlite.exec('commit');
    } catch (error) {
      if (sqlite.inTransaction) sqlite.exec('rollback');
      throw error;
    }
    // Serving, no statement holds the event loop longer than this; the driver retries async.
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  } catch (error) {
    sqlite.close();
    throw error;
  }
  let reader: BetterSqlite3.Database | undefined;
  if (path !== ':memory:') {
    reader = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  }
  const driver = new PatientSqliteDriver({
    writer: cachingStatements(sqlite),
    reader: reader && cachingStatements(reader),
    onBusy: warnBusyOnce(path),
  });
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteDialect({ database: sqlite }).createAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new SqliteDialect({ database: sqlite }).createIntrospector(db),
      createQueryCompiler: () => new SqliteDialect({ database: sqlite }).createQueryCompiler(),
    },
  });
}

/** How often, at most, the server logs that the database is busy: once per lock, not per retry. */
const BUSY_WARNING_EVERY_MS = 10_000;

/** Logs (to stderr, as the server's other warnings) that another process holds the file. */
function warnBusyOnce(path: string): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < BUSY_WARNING_EVERY_MS) return;
    last = now;
    process.emitWarning(`store: ${path} is locked by another process; statements wait (asynchronously) and retry`);
  };
}

/** Runs `fn`; if it throws, closes `db` and rethrows the original error. */
async function closeOnError(db: Kysely<Database>, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    await db.destroy().catch(() => {}); // already failing: report the first error, not this one
    throw error;
  }
}

/**
 * Runs every pending migration; throws NOOPS_E_STORE_OPEN (with the failing migration's error as
 * cause) if one fails, the first statement included: a database that cannot be reached fails here.
 */
async function migrate(db: Kysely<Database>, backend: Backend): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(backend) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const detail = error instanceof Error ? error.message : String(error);
    throw new NoopsError('NOOPS_E_STORE_OPEN', `store migration${failed ? ` ${failed}` : ''} failed: ${detail}`, { cause: error });
  }
}

export { MIGRATION_NAMES } from './migrations.js';

/**
 * Opens (creating if needed) the store at `url` and brings its schema up to date.
 *
 * `url` is `sqlite:/abs/path/noops.db` (also `sqlite::memory:` for tests), a plain path ending
 * in `.db`, or `postgres://user:pass@host:5432/db` (`postgresql://` too). Any other URL throws.
 * Several servers may open one PostgreSQL database at once: migrations run once, under a lock.
 * Opening one SQLite file twice in one process shares one connection (closed with the last store).
 *
 * @example
 *   const store = await openStore(process.env.NOOPS_DB ?? 'sqlite:/var/lib/noops/noops.db');
 */
export async function openStore(url: string): Promise<Store> {
  const target = parseStoreUrl(url);
  const { db, close } = await openDatabase(target);
  return new KyselyStore(db, target.backend, close);
}
export { pruneManifestsEvery } from './desired-manifests.js';
