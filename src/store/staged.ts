/**
 * Packages staged for hosts (docs/packages-p2p.md, "Fetching the next batch ahead"): as a
 * rollout's batch starts, the next batch's hosts are told its package in their desired-state
 * answers, and fetch it ahead. Kept in the store, not in the memory of the server that steps the
 * rollout, so that every server names it in the answers of the agents polling it (several
 * servers on PostgreSQL). A row holds until its time (ms since the epoch, the wall clock every
 * server shares) or until the deployment ends; the answers leave out the packages a host's
 * instances already name.
 */
import type { CompiledQuery, Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import { chunks, inChunks, RowsStatement } from './batch.js';
import { bumpGenerations } from './desired.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';
import type { StagedPackageRow } from './types.js';

/** The table: one row per (host, package) staged. */
export function stagedPackagesMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('staged_packages')
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('sha256', text, (c) => c.notNull())
        .addColumn('tag', text, (c) => c.notNull())
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('until_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('staged_packages_pk', ['host', 'sha256'])
        .execute();
      await db.schema.createIndex('staged_packages_sha256').on('staged_packages').column('sha256').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('staged_packages').execute();
    },
  };
}

/**
 * Stages `pkg` for `hosts` until `until`, then raises each host's desired-state generation by one
 * (a host without one gets 1), in a statement per BATCH_ROWS hosts: a reader that sees the new
 * generation sees the staging. Stagings expired at `now` are removed first. Hosts are written in
 * name order, as every multi-row write of generations should, so two never wait on each other.
 */
export async function stagePackage(
  db: Kysely<Database>,
  hosts: readonly string[],
  pkg: StagedPackageRow,
  until: number,
  now: number,
): Promise<void> {
  await db.deleteFrom('staged_packages').where('until_ms', '<=', now).execute();
  const sorted = [...new Set(hosts)].sort();
  for (const batch of chunks(sorted)) {
    await db
      .insertInto('staged_packages')
      .values(batch.map((host) => ({ host, sha256: pkg.sha256, tag: pkg.tag, version: pkg.version, until_ms: until })))
      .onConflict((oc) =>
        oc.columns(['host', 'sha256']).doUpdateSet((eb) => ({
          tag: eb.ref('excluded.tag'),
          version: eb.ref('excluded.version'),
          until_ms: eb.ref('excluded.until_ms'),
        })),
      )
      .execute();
  }
  for (const batch of chunks(sorted)) await bumpGenerations.run(db, batch);
}

/** Package `sha256` is staged for none of cluster `tag`'s hosts any more; answers how many stagings went. */
export async function unstagePackage(db: Kysely<Database>, tag: string, sha256: string): Promise<number> {
  const r = await db.deleteFrom('staged_packages').where('sha256', '=', sha256).where('tag', '=', tag).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * The stagings of some hosts: built once per count of hosts (batch.ts), as it runs with every
 * 500 hosts' answers resolved (kysely built a 500-value `in` list anew each time: 0.47 s of the
 * server's CPU in the fan-out of a change to 10,000 hosts). Their time is compared here.
 */
const selectStaged = new RowsStatement(
  (db, hosts) =>
    db
      .selectFrom('staged_packages')
      .select(['host', 'sha256', 'tag', 'version', 'until_ms'])
      .where(
        'host',
        'in',
        hosts.map(([h]) => h as string),
      )
      .compile(),
  (host: string) => [host],
);

/** `select host from staged_packages limit 1`, built once per dialect (kysely would build it at each of thousands of answers). */
const anyStagedQuery = new WeakMap<object, CompiledQuery<{ host: string }>>();

/** Whether any host has a package staged (expired or not). */
async function anyStaged(db: Kysely<Database>): Promise<boolean> {
  const adapter = db.getExecutor().adapter;
  let query = anyStagedQuery.get(adapter);
  if (query === undefined) anyStagedQuery.set(adapter, (query = db.selectFrom('staged_packages').select('host').limit(1).compile()));
  return (await db.executeQuery(query)).rows.length > 0;
}

/** The packages staged for each of `hosts` that hold past `now` (a host with none is left out), oldest staging first. */
export async function stagedMany(db: Kysely<Database>, hosts: readonly string[], now: number): Promise<Map<string, StagedPackageRow[]>> {
  const out = new Map<string, (StagedPackageRow & { until: number })[]>();
  // mostly none is staged (no rollout in pieces under way): one row looked for, not 500 hosts
  if (hosts.length === 0 || !(await anyStaged(db))) return new Map();
  for (const batch of inChunks(hosts)) {
    for (const r of await selectStaged.run(db, batch)) {
      const until = Number(r.until_ms); // a bigint comes from PostgreSQL as a string
      if (until <= now) continue;
      let mine = out.get(r.host);
      if (mine === undefined) out.set(r.host, (mine = []));
      mine.push({ tag: r.tag, version: r.version, sha256: r.sha256, until });
    }
  }
  const staged = new Map<string, StagedPackageRow[]>();
  for (const [host, mine] of out)
    staged.set(
      host,
      mine.sort((a, b) => a.until - b.until).map(({ until: _, ...p }) => p),
    );
  return staged;
}
