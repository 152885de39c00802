import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { benchDb, createDatabase, dropDatabase, urlOf } from './pg.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;

async function query<T>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('the fleet benchmark on PostgreSQL', () => {
  it('reads NOOPS_BENCH_FLEET_DB: unset or empty is SQLite, a postgres URL is taken, anything else is refused', () => {
    assert.equal(benchDb({}), undefined);
    assert.equal(benchDb({ NOOPS_BENCH_FLEET_DB: '' }), undefined);
    assert.equal(benchDb({ NOOPS_BENCH_FLEET_DB: 'postgres://u:p@127.0.0.1/db' }), 'postgres://u:p@127.0.0.1/db');
    assert.throws(() => benchDb({ NOOPS_BENCH_FLEET_DB: 'sqlite:/tmp/x.db' }), /must be a postgres:\/\/ URL/);
  });

  it('names another database in the admin URL, keeping its role and host', () => {
    assert.equal(
      urlOf('postgres://u:p@127.0.0.1:5432/noops_test', 'noops_bench_run_ab'),
      'postgres://u:p@127.0.0.1:5432/noops_bench_run_ab',
    );
  });

  it('copies a seed database for a run, and drops both', { skip: PG_URL ? false : 'set NOOPS_TEST_PG_URL' }, async () => {
    const seed = await createDatabase(PG_URL!, 'seed');
    let run: string | undefined;
    try {
      assert.match(seed, /^noops_bench_seed_[0-9a-f]{12}$/);
      await query(urlOf(PG_URL!, seed), 'create table releases (version text); insert into releases values ($$64f500eb7$$)');
      run = await createDatabase(PG_URL!, 'run', seed);
      assert.deepEqual(await query(urlOf(PG_URL!, run), 'select version from releases'), [{ version: '64f500eb7' }]);
    } finally {
      if (run) await dropDatabase(PG_URL!, run);
      await dropDatabase(PG_URL!, seed);
    }
    const left = await query<{ datname: string }>(PG_URL!, `select datname from pg_database where datname in ('${seed}', '${run}')`);
    assert.deepEqual(left, []);
  });
});
