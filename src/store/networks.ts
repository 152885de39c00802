/**
 * The address pool of containers (issue 17): the one network spec (`noops network set`) and the
 * subnet each host was given from it. Which subnet a host gets, and when, is `network/`'s; the
 * store keeps the rows and makes sure two servers never give one subnet to two hosts (a unique
 * index: the second claim inserts nothing, and its caller tries the next subnet).
 *
 * Migration 0021_networks also adds two columns to `instances` (`container`, `address`: what an
 * agent reports of a process run as a container) and one to `desired` (`driver`: how a host runs
 * an entry, resolved when the entry is written).
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** The network spec as stored (the wire's `NetworkSpec`, with who set it and when). */
export interface NetworkRow {
  /** `198.18.0.0/15` */
  pool: string;
  /** the prefix length of each host's subnet */
  perHost: number;
  /** `bridge` or `macvlan` (the route checks it) */
  driver: string;
  parent: string | null;
  updatedBy: string;
  updatedAt: string;
}

/** One host's subnet. */
export interface HostSubnetRow {
  host: string;
  /** `198.18.3.0/24` */
  subnet: string;
  /** its place in the pool (0 is the first subnet): the deterministic order subnets are given in */
  index: number;
  givenAt: string;
}

/** The queries of this file, as the `Store` offers them (`store.networks`). */
export interface NetworkStore {
  /** the spec, or undefined when no pool was ever set */
  get(): Promise<NetworkRow | undefined>;
  /**
   * Sets the spec, forgets the subnets of `drop` (hosts whose subnet is not in the new pool), and
   * raises every host's desired-state generation so that each agent hears of it; one transaction.
   */
  put(row: NetworkRow, drop: readonly string[]): Promise<void>;
  /** every host's subnet, by index */
  subnets(): Promise<HostSubnetRow[]>;
  /** one host's subnet */
  subnetOf(host: string): Promise<HostSubnetRow | undefined>;
  /**
   * Gives `row.subnet` to `row.host` unless the host has one or another host holds that subnet
   * (both kept as they are); answers the host's subnet after, or undefined when the subnet was
   * another host's (the caller tries the next).
   */
  claim(row: HostSubnetRow): Promise<HostSubnetRow | undefined>;
  /** forgets a host's subnet (the host was removed); answers whether it had one */
  release(host: string): Promise<boolean>;
  /** the hosts whose stored instances include a container */
  containerHosts(): Promise<string[]>;
}

/** The spec's table: one row, id 1. */
export interface NetworkTable {
  id: number;
  pool: string;
  per_host: number;
  driver: string;
  parent: string | null;
  updated_by: string;
  updated_at: string;
}

/** The subnets' table: one row per host, the subnet unique. */
export interface NetworkSubnetsTable {
  host: string;
  subnet: string;
  subnet_index: number;
  given_at: string;
}

/** Migration 0021_networks: the spec, the hosts' subnets, and the new columns of instances and desired. */
export function networksMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('network')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('pool', text, (c) => c.notNull())
        .addColumn('per_host', 'integer', (c) => c.notNull())
        .addColumn('driver', text, (c) => c.notNull())
        .addColumn('parent', text)
        .addColumn('updated_by', text, (c) => c.notNull())
        .addColumn('updated_at', text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('network_subnets')
        .addColumn('host', text, (c) => c.primaryKey())
        .addColumn('subnet', text, (c) => c.notNull())
        .addColumn('subnet_index', 'integer', (c) => c.notNull())
        .addColumn('given_at', text, (c) => c.notNull())
        .execute();
      // two servers giving subnets at once: the second insert of one subnet inserts nothing
      await db.schema.createIndex('network_subnets_subnet').on('network_subnets').column('subnet').unique().execute();
      await db.schema.alterTable('instances').addColumn('container', text).execute();
      await db.schema.alterTable('instances').addColumn('address', text).execute();
      await db.schema.alterTable('desired').addColumn('driver', text).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('desired').dropColumn('driver').execute();
      await db.schema.alterTable('instances').dropColumn('address').execute();
      await db.schema.alterTable('instances').dropColumn('container').execute();
      await db.schema.dropTable('network_subnets').ifExists().execute();
      await db.schema.dropTable('network').ifExists().execute();
    },
  };
}

/** The spec's one row. */
const SPEC_ID = 1;

function subnetFromDb(r: NetworkSubnetsTable): HostSubnetRow {
  return { host: r.host, subnet: r.subnet, index: Number(r.subnet_index), givenAt: r.given_at };
}

/** The queries on one database (a transaction's included). */
export function networkQueries(db: Kysely<Database>): NetworkStore {
  return {
    async get() {
      const r = await db.selectFrom('network').selectAll().where('id', '=', SPEC_ID).executeTakeFirst();
      return (
        r && {
          pool: r.pool,
          perHost: Number(r.per_host),
          driver: r.driver,
          parent: r.parent,
          updatedBy: r.updated_by,
          updatedAt: r.updated_at,
        }
      );
    },
    async put(row, drop) {
      const values: NetworkTable = {
        id: SPEC_ID,
        pool: row.pool,
        per_host: row.perHost,
        driver: row.driver,
        parent: row.parent,
        updated_by: row.updatedBy,
        updated_at: row.updatedAt,
      };
      const { id, ...changed } = values;
      const write = async (trx: Kysely<Database>): Promise<void> => {
        await trx
          .insertInto('network')
          .values(values)
          .onConflict((oc) => oc.column('id').doUpdateSet(changed))
          .execute();
        for (let i = 0; i < drop.length; i += 500) {
          await trx
            .deleteFrom('network_subnets')
            .where('host', 'in', drop.slice(i, i + 500))
            .execute();
        }
        // Every host hears of it at its next poll: a new generation for each (one statement).
        await trx
          .insertInto('desired_generation')
          .columns(['host', 'generation'])
          // `where true`: SQLite reads an INSERT ... SELECT's ON CONFLICT only after a WHERE
          .expression(
            trx
              .selectFrom('hosts')
              .select(['name as host', sql<number>`1`.as('generation')])
              .where(sql<boolean>`true`)
              // in name order, as every write of many generations (staged.ts): two never wait on each other
              .orderBy('name'),
          )
          .onConflict((oc) => oc.column('host').doUpdateSet({ generation: sql<number>`desired_generation.generation + 1` }))
          .execute();
      };
      if (db.isTransaction) await write(db);
      else await db.transaction().execute(write);
    },
    async subnets() {
      return (await db.selectFrom('network_subnets').selectAll().orderBy('subnet_index').execute()).map(subnetFromDb);
    },
    async subnetOf(host) {
      const r = await db.selectFrom('network_subnets').selectAll().where('host', '=', host).executeTakeFirst();
      return r && subnetFromDb(r);
    },
    async claim(row) {
      // Either key taken (the host has one, or the subnet is another's): nothing inserted, no error.
      await db
        .insertInto('network_subnets')
        .values({ host: row.host, subnet: row.subnet, subnet_index: row.index, given_at: row.givenAt })
        .onConflict((oc) => oc.doNothing())
        .execute();
      const r = await db.selectFrom('network_subnets').selectAll().where('host', '=', row.host).executeTakeFirst();
      return r && subnetFromDb(r);
    },
    async release(host) {
      const r = await db.deleteFrom('network_subnets').where('host', '=', host).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async containerHosts() {
      const rows = await db.selectFrom('instances').select('host').distinct().where('container', 'is not', null).orderBy('host').execute();
      return rows.map((r) => r.host);
    },
  };
}
