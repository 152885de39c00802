/**
 * Naming lookups (issue 16): which host (and the jobs it ran) asked naming for what, over HTTP
 * or DNS, for who depends on whom. One row per caller and target, counted; the naming module
 * writes them in batches (a lookup is never a write of its own).
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { chunks } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** One caller's lookups of one target, as stored. */
export interface NamingLookupRow {
  /** the host that asked (for HTTP: the agent's host, or the token's name) */
  callerHost: string;
  /** a job running on that host when it asked ('' when none ran) */
  callerTag: string;
  /** what it asked for: a canonical selector (`cop=acme,service=shop`) */
  target: string;
  via: 'http' | 'dns';
  firstAt: string;
  lastAt: string;
  count: number;
}

/** The table. */
export interface NamingLookupsTable {
  caller_host: string;
  caller_tag: string;
  target: string;
  via: string;
  first_at: string;
  last_at: string;
  count: number;
}

/** Migration 0019_naming: the lookups table, keyed by caller, target and way. */
export function namingMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('naming_lookups')
        .addColumn('caller_host', text, (c) => c.notNull())
        .addColumn('caller_tag', text, (c) => c.notNull())
        .addColumn('target', text, (c) => c.notNull())
        .addColumn('via', text, (c) => c.notNull())
        .addColumn('first_at', text, (c) => c.notNull())
        .addColumn('last_at', text, (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('naming_lookups_pk', ['caller_host', 'caller_tag', 'target', 'via'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('naming_lookups').ifExists().execute();
    },
  };
}

/** Adds lookups in one transaction: a known caller and target counts up and moves its last time. */
export async function recordNamingLookups(db: Kysely<Database>, rows: readonly NamingLookupRow[]): Promise<void> {
  if (rows.length === 0) return;
  // keys in order: two servers writing overlapping rows lock them in the same order
  const sorted = [...rows].sort((a, b) => {
    const ka = `${a.callerHost}\u0000${a.callerTag}\u0000${a.target}\u0000${a.via}`;
    const kb = `${b.callerHost}\u0000${b.callerTag}\u0000${b.target}\u0000${b.via}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  await db.transaction().execute(async (trx) => {
    for (const batch of chunks(sorted)) {
      await trx
        .insertInto('naming_lookups')
        .values(
          batch.map((r) => ({
            caller_host: r.callerHost,
            caller_tag: r.callerTag,
            target: r.target,
            via: r.via,
            first_at: r.firstAt,
            last_at: r.lastAt,
            count: r.count,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['caller_host', 'caller_tag', 'target', 'via']).doUpdateSet({
            last_at: (eb) => eb.ref('excluded.last_at'),
            count: sql<number>`naming_lookups.count + excluded.count`,
          }),
        )
        .execute();
    }
  });
}

/** Every stored lookup, most recent first. */
export async function listNamingLookups(db: Kysely<Database>): Promise<NamingLookupRow[]> {
  const rows = await db.selectFrom('naming_lookups').selectAll().orderBy('last_at', 'desc').execute();
  return rows.map((r) => ({
    callerHost: r.caller_host,
    callerTag: r.caller_tag,
    target: r.target,
    via: r.via === 'dns' ? 'dns' : 'http',
    firstAt: r.first_at,
    lastAt: r.last_at,
    count: Number(r.count),
  }));
}
