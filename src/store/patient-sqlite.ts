/**
 * A kysely driver for SQLite that waits for another process's lock without freezing the event
 * loop. better-sqlite3 waits for a lock synchronously (busy_timeout): with 5 s, a backup or a
 * `sqlite3` console holding the file froze the whole server (`GET /whoami` took 9.7 s). Here
 * each attempt waits at most `SQLITE_BUSY_TIMEOUT_MS` synchronously, and a busy statement is
 * tried again after an async sleep until `STORE_BUSY_DEADLINE_MS`, then fails with the
 * retryable NOOPS_E_STORE_BUSY.
 *
 *   select outside a transaction ──> reader handle (WAL: never waits for the writer)
 *   any other statement         ──> write mutex ──> writer handle, retried while busy
 *   transaction                 ──> write mutex ──> BEGIN IMMEDIATE (retried) ... COMMIT
 *
 * Reads go to a second handle so that a write waiting for the lock does not hold up every
 * read behind the one connection's mutex. That handle only reads: in WAL mode a reader never
 * waits for a writer, so it cannot deadlock with the writer handle of this process.
 * Transactions begin IMMEDIATE: a deferred one that read first could meet SQLITE_BUSY on its
 * first write, which no retry of that statement can cure; IMMEDIATE meets it at BEGIN.
 */
import { channel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { CompiledQuery, SelectQueryNode, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase } from 'kysely';
import { NoopsError } from '../errors/index.js';

/**
 * The longest one attempt waits synchronously for a lock. Every statement waits this long at
 * most while the event loop stands still; 20 ms is longer than a normal write of another
 * server process (a few ms), so two servers on one file rarely go to the async retry.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 20;

/**
 * How long a statement keeps trying while another process holds the database, then fails with
 * NOOPS_E_STORE_BUSY (503, retryable). Long enough to outlast an online backup's step or a
 * short console session (the e2e test holds a lock 5 s); short enough that a client is told
 * within a normal HTTP wait rather than hanging on a console that forgot COMMIT.
 */
export const STORE_BUSY_DEADLINE_MS = 15_000;

/** First and longest sleep between attempts: quick when the lock is brief, few wakeups when not. */
export const BUSY_RETRY_MIN_MS = 10;
export const BUSY_RETRY_MAX_MS = 250;

export interface PatientSqliteOptions {
  /** the handle every write and transaction uses */
  writer: SqliteDatabase;
  /** a second handle on the same file for reads outside transactions; none for ':memory:' */
  reader?: SqliteDatabase;
  deadlineMs?: number;
  /** told of each statement that found the database busy and will be tried again */
  onBusy?: (sql: string) => void;
}

/** Whether `err` is SQLite's "another connection holds the lock" (SQLITE_BUSY and its extended codes). */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

/**
 * Runs `attempt` until it does not throw SQLITE_BUSY, sleeping between tries; past `deadlineMs`
 * throws NOOPS_E_STORE_BUSY with the last busy error as its cause. Other errors pass through.
 */
export async function retryWhileBusy<T>(attempt: () => T, deadlineMs: number, onBusy?: () => void): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let delay = BUSY_RETRY_MIN_MS;
  for (;;) {
    try {
      return attempt();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (Date.now() + delay > deadline) {
        throw new NoopsError(
          'NOOPS_E_STORE_BUSY',
          `the database is locked by another process; gave up after ${Math.round(deadlineMs / 1000)} s`,
          { cause: err },
        );
      }
      onBusy?.();
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, BUSY_RETRY_MAX_MS);
    }
  }
}

/**
 * Every statement's SQL, rows and time in ms, for whoever subscribes (a benchmark's probe:
 * bench/lib/cpu-probe.mjs); nothing is measured while nobody does.
 */
const statementChannel = channel('noops:store:statement');

/** One statement on one handle, as kysely's own SQLite driver runs it. */
function run(db: SqliteDatabase, query: CompiledQuery): QueryResult<unknown> {
  if (!statementChannel.hasSubscribers) return runStatement(db, query);
  const t0 = performance.now();
  const result = runStatement(db, query);
  statementChannel.publish({ sql: query.sql, rows: result.rows.length, ms: performance.now() - t0 });
  return result;
}

function runStatement(db: SqliteDatabase, query: CompiledQuery): QueryResult<unknown> {
  const stmt = db.prepare(query.sql);
  if (stmt.reader) return { rows: stmt.all(query.parameters) as unknown[] };
  const { changes, lastInsertRowid } = stmt.run(query.parameters);
  return {
    numAffectedRows: changes === undefined || changes === null ? undefined : BigInt(changes),
    insertId: lastInsertRowid === undefined || lastInsertRowid === null ? undefined : BigInt(lastInsertRowid),
    rows: [],
  };
}

/** A FIFO lock: one writer (statement or transaction) on the writer handle at a time. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that releases the lock. */
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const before = this.#tail;
    this.#tail = before.then(() => next);
    await before;
    return release;
  }
}

export class PatientSqliteDriver implements Driver {
  readonly #opts: Required<Omit<PatientSqliteOptions, 'reader' | 'onBusy'>> & PatientSqliteOptions;
  readonly #mutex = new Mutex();

  constructor(opts: PatientSqliteOptions) {
    this.#opts = { deadlineMs: STORE_BUSY_DEADLINE_MS, ...opts };
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PatientConnection(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PatientConnection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PatientConnection).end('commit');
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PatientConnection).end('rollback');
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PatientConnection).releaseLock();
  }

  async destroy(): Promise<void> {
    this.#opts.reader?.close();
    this.#opts.writer.close();
  }

  /** @internal */
  lockWriter(): Promise<() => void> {
    return this.#mutex.lock();
  }

  /** @internal runs one statement on a handle, retried while busy */
  attempt(db: 'writer' | 'reader', query: CompiledQuery): Promise<QueryResult<unknown>> {
    const handle = db === 'reader' ? this.#opts.reader! : this.#opts.writer;
    return retryWhileBusy(
      () => run(handle, query),
      this.#opts.deadlineMs,
      () => this.#opts.onBusy?.(query.sql),
    );
  }

  /** @internal */
  get hasReader(): boolean {
    return this.#opts.reader !== undefined;
  }
}

class PatientConnection implements DatabaseConnection {
  /** set while this connection holds the writer (inside a transaction) */
  #release: (() => void) | undefined;

  constructor(private readonly driver: PatientSqliteDriver) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#release !== undefined) return (await this.driver.attempt('writer', query)) as QueryResult<R>;
    if (this.driver.hasReader && SelectQueryNode.is(query.query)) return (await this.driver.attempt('reader', query)) as QueryResult<R>;
    const release = await this.driver.lockWriter();
    try {
      return (await this.driver.attempt('writer', query)) as QueryResult<R>;
    } finally {
      release();
    }
  }

  // eslint-disable-next-line require-yield
  // biome-ignore lint/correctness/useYield: kysely's driver interface; this store never streams
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the store does not stream queries');
  }

  async begin(): Promise<void> {
    const release = await this.driver.lockWriter();
    try {
      await this.driver.attempt('writer', CompiledQuery.raw('begin immediate'));
    } catch (err) {
      release();
      throw err;
    }
    this.#release = release;
  }

  async end(how: 'commit' | 'rollback'): Promise<void> {
    if (how === 'commit') {
      // A busy COMMIT leaves the transaction open, so trying it again is sound. When it fails
      // for good, the lock stays held: kysely rolls back next, and that releases it.
      await this.driver.attempt('writer', CompiledQuery.raw('commit'));
      this.releaseLock();
      return;
    }
    try {
      await this.driver.attempt('writer', CompiledQuery.raw('rollback'));
    } catch (err) {
      // SQLite may have rolled back already (some errors end the transaction themselves).
      if (!/no transaction is active/i.test((err as Error).message)) throw err;
    } finally {
      this.releaseLock();
    }
  }

  releaseLock(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}
