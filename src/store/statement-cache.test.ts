import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { cachingStatements } from './statement-cache.js';

test('the same SQL text gets the same prepared statement, and it still runs with new values', () => {
  const raw = new BetterSqlite3(':memory:');
  let prepared = 0;
  const counting = {
    close: () => raw.close(),
    prepare: (sql: string) => {
      prepared++;
      return raw.prepare(sql);
    },
  };
  const db = cachingStatements(counting);
  db.prepare('create table t (k text primary key, v integer)').run([]);
  const insert = 'insert into t (k, v) values (?, ?)';
  db.prepare(insert).run(['a', 1]);
  db.prepare(insert).run(['b', 2]);
  assert.equal(db.prepare(insert), db.prepare(insert));
  assert.deepEqual(db.prepare('select v from t where k = ?').all(['b']), [{ v: 2 }]);
  assert.deepEqual(db.prepare('select v from t where k = ?').all(['a']), [{ v: 1 }]);
  assert.equal(prepared, 3);
  db.close();
});

test('the least recently used statement leaves a full cache', () => {
  const raw = new BetterSqlite3(':memory:');
  const seen: string[] = [];
  const db = cachingStatements(
    {
      close: () => raw.close(),
      prepare: (sql: string) => {
        seen.push(sql);
        return raw.prepare(sql);
      },
    },
    2,
  );
  db.prepare('select 1');
  db.prepare('select 2');
  db.prepare('select 1'); // now 2 is the least recent
  db.prepare('select 3'); // evicts 2
  db.prepare('select 1');
  db.prepare('select 2'); // prepared again
  assert.deepEqual(seen, ['select 1', 'select 2', 'select 3', 'select 2']);
  db.close();
});
