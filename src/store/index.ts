/**
 * The store: noops's state (tokens, the tree, hosts, clusters, releases, builds, deployments,
 * desired state, instances, audit) in SQLite or PostgreSQL, behind one `Store` interface.
 *
 * @example
 *   import { openStore } from '../store/index.js';
 *   const store = await openStore('sqlite:/var/lib/noops/noops.db');
 *   await store.setMeta('server.id', 'a1');
 *   await store.close();
 */
import { KyselyStore } from './kysely-store.js';
import { openDatabase, parseStoreUrl } from './open.js';
import type { Store } from './types.js';

export type * from './types.js';
export { parseStoreUrl, type StoreTarget } from './open.js';
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
