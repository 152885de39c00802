/**
 * The PostgreSQL of the tests: each test that needs one makes a database of its own on the
 * server NOOPS_TEST_PG_URL names (CI sets it; scripts/pg-setup.sh prints it) and drops it at
 * the end, so tests running at once never see each other's rows.
 *
 * @example
 *   test('...', { skip: NEEDS_PG }, async () => {
 *     const db = await testDatabase('noops_lead');
 *     after(() => db.drop());
 *     const store = await openStore(db.url);
 *   });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test server's URL, or undefined when the tests run without PostgreSQL. */
export const TEST_PG_URL = process.env.NOOPS_TEST_PG_URL;

/** A PostgreSQL test's `skip`: false with a server, the reason without. */
export const NEEDS_PG: string | false = TEST_PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it';

/** Drops tried before a leftover database is only warned about. */
const DROP_ATTEMPTS = 4;

/** A database of one test's own. */
export interface TestDatabase {
  name: string;
  /** postgres://... of this database */
  url: string;
  /** drops it (its connections closed by force); a failure is a warning, never the test's */
  drop(): Promise<void>;
}

/** Runs one statement on the test server (create or drop a database), or on the server `url` names. */
export async function pgAdmin(statement: string, url = TEST_PG_URL): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** Creates a database named `PREFIX_RANDOM` on the test server. */
export async function testDatabase(prefix: string): Promise<TestDatabase> {
  if (!TEST_PG_URL) throw new Error('testDatabase needs NOOPS_TEST_PG_URL (give the test `skip: NEEDS_PG`)');
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await pgAdmin(`create database ${name}`);
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE ends the database's sessions, but cannot end one of another role that is
      // starting or ending (CI saw "must be a member of the role whose process is being
      // terminated" once): a moment later it is gone, so try again before giving up.
      for (let attempt = 1; ; attempt++) {
        try {
          await pgAdmin(`drop database if exists ${name} with (force)`);
          return;
        } catch (err) {
          if (attempt >= DROP_ATTEMPTS) {
            process.emitWarning(`could not drop the test database ${name}: ${(err as Error).message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, 300 * attempt));
        }
      }
    },
  };
}
