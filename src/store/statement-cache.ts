/**
 * Prepared statements, reused. kysely's SQLite driver prepares every query it runs anew, and
 * preparing (parsing and planning the SQL) costs more than running the small queries of the
 * hot paths (a token lookup, a host's desired state): with 1,000 agents it was a third of the
 * server's database time. The SQL text of a query is the same every time it runs (the values
 * are parameters), so a small cache keyed by the text serves nearly every query.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept: the store has a few dozen queries, and batch inserts vary in size. */
export const STATEMENT_CACHE_SIZE = 256;

/** The database as kysely's SqliteDialect takes it, with prepared statements cached (least recently used out). */
export function cachingStatements(db: SqliteDatabase, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt !== undefined) {
        cache.delete(sql); // re-inserted below: a Map iterates in insertion order, so the first key is the least recent
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
