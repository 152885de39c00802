/**
 * Desired rows' manifests, kept once per distinct manifest (issue 19, migration 0035).
 *
 * A cluster's desired rows hold the same release's manifest, one row per host: a deploy to
 * 10,000 hosts wrote 10,000 copies of it and every fan-out read them back. A manifest with a
 * hundred environment variables is about 4 kB: 40 MB written per deploy, and on SQLite the
 * write of 10,000 rows took 300 ms against 55 ms for rows that name their manifest (a script,
 * docs/benchmarks.md). Since 0035 a row names its manifest by `manifest_hash` (base64url of the
 * sha256 of its JSON text) and the text is kept once in `desired_manifests`; a row written before
 * keeps its own copy in `manifest` (its hash null) until the next deploy writes it again.
 *
 * A hash names one text forever, so what this process has read is kept by hash
 * (MANIFESTS_BY_HASH_KEPT) and a read asks the store only for the manifests it does not hold. A
 * manifest no row names is deleted by `pruneDesiredManifests` once no write has used it for
 * MANIFEST_UNUSED_MS, so a write that names it again (a rollback) never loses it to a prune
 * running beside it (the write marks it used, under the row's lock on PostgreSQL). Every server
 * prunes every PRUNE_EVERY_MS in a statement of its own (`pruneManifestsEvery`): the prune reads
 * every desired row's hash, and a deploy's writes wait for nothing of it.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import { inChunks } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** A manifest no desired row names is deleted after this long without a write that names it. */
export const MANIFEST_UNUSED_MS = 60 * 60_000;

/** Manifests kept parsed by hash in this process: a few releases per cluster, a few dozen clusters read at once. */
export const MANIFESTS_BY_HASH_KEPT = 256;

export function desiredManifestsMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('desired_manifests')
        .addColumn('hash', text, (c) => c.primaryKey())
        .addColumn('manifest', text, (c) => c.notNull())
        .addColumn('used_at', text, (c) => c.notNull())
        .execute();
      await db.schema.alterTable('desired').addColumn('manifest_hash', text).execute();
    },
    async down(db: Kysely<unknown>) {
      // every row takes its own copy back before the kept ones go
      // (a row whose manifest is gone keeps what it holds: '' is no manifest, and says so when read)
      await sql`update desired set manifest = coalesce((select m.manifest from desired_manifests m where m.hash = desired.manifest_hash), manifest) where manifest_hash is not null`.execute(
        db,
      );
      await db.schema.alterTable('desired').dropColumn('manifest_hash').execute();
      await db.schema.dropTable('desired_manifests').execute();
    },
  };
}

/** The name of a manifest's JSON text: base64url of its sha256 (43 characters). */
export function manifestHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * Writes each manifest (hash -> JSON text) once, and marks every one used at `at` (an ISO time),
 * so that no prune takes it while the rows that name it are written.
 */
export async function keepManifests(db: Kysely<Database>, manifests: ReadonlyMap<string, string>, at: string): Promise<void> {
  if (manifests.size === 0) return;
  await db
    .insertInto('desired_manifests')
    .values([...manifests].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([hash, manifest]) => ({ hash, manifest, used_at: at })))
    .onConflict((oc) => oc.column('hash').doUpdateSet((eb) => ({ used_at: eb.ref('excluded.used_at') })))
    .execute();
}

const byHash = new Map<string, Record<string, unknown>>();
let last: { hash: string; manifest: Record<string, unknown> } | undefined;

/** A manifest this process read already, by hash (the last one first: a cluster's rows name the same). */
function known(hash: string): Record<string, unknown> | undefined {
  if (last !== undefined && last.hash === hash) return last.manifest;
  const manifest = byHash.get(hash);
  if (manifest !== undefined) last = { hash, manifest };
  return manifest;
}

/**
 * The manifests `hashes` name, parsed (one object per hash, shared by every row that names it):
 * those this process read before from memory, the others in one statement per BATCH_ROWS.
 *
 * @throws ManifestGoneError when a hash names no kept manifest: a row that named it was replaced
 *   and the manifest pruned between the two reads (desired.ts reads again: the new row)
 */
export async function manifestsByHash(db: Kysely<Database>, hashes: Iterable<string>): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  const missing: string[] = [];
  for (const h of hashes) {
    if (out.has(h)) continue;
    const m = known(h);
    if (m === undefined) missing.push(h);
    else out.set(h, m);
  }
  if (missing.length === 0) return out;
  for (const batch of inChunks(missing)) {
    const rows = await db.selectFrom('desired_manifests').select(['hash', 'manifest']).where('hash', 'in', batch).execute();
    for (const r of rows) {
      if (out.has(r.hash)) continue;
      // the text is checked against its name: a row in this table is never trusted for another manifest
      if (manifestHash(r.manifest) !== r.hash) throw new Error(`the kept desired manifest ${r.hash} does not match its hash`);
      const manifest = JSON.parse(r.manifest) as Record<string, unknown>;
      if (byHash.size >= MANIFESTS_BY_HASH_KEPT) byHash.delete(byHash.keys().next().value!);
      byHash.set(r.hash, manifest);
      out.set(r.hash, manifest);
    }
  }
  const gone = missing.find((h) => !out.has(h));
  if (gone !== undefined) throw new ManifestGoneError(gone);
  return out;
}

/** A row named a manifest that is no longer kept: the row was replaced and the manifest pruned between a read's two statements. */
export class ManifestGoneError extends Error {
  constructor(readonly hash: string) {
    super(`the desired manifest ${hash} is no longer kept (its rows changed while they were read): read them again`);
  }
}

/**
 * Deletes the manifests no desired row names that no write has used since `before` (an ISO
 * time); answers how many. One statement: the rows' hashes are read once, not per manifest.
 */
export async function pruneDesiredManifests(db: Kysely<Database>, before: string): Promise<number> {
  const result = await db
    .deleteFrom('desired_manifests')
    .where('used_at', '<', before)
    .where('hash', 'not in', (eb) =>
      eb.selectFrom('desired').select('manifest_hash as hash').where('manifest_hash', 'is not', null).$narrowType<{ hash: string }>(),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** How often each server prunes the manifests no row names (idempotent: every server may). */
export const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Prunes now and then every `everyMs` (`prune` given the time before which an unnamed manifest
 * goes: MANIFEST_UNUSED_MS ago), one prune at a time, the timer not holding the process; a
 * failure is `warn`ed and the next prune tries again. Answers a function that stops it (and waits
 * for the prune running).
 *
 * @example const stop = pruneManifestsEvery((before) => store.pruneDesiredManifests(before));
 */
export function pruneManifestsEvery(
  prune: (before: string) => Promise<number>,
  opts: { everyMs?: number; now?: () => number; warn?: (message: string) => void } = {},
): () => Promise<void> {
  const now = opts.now ?? Date.now;
  const warn = opts.warn ?? ((m: string) => process.emitWarning(m));
  let running: Promise<void> | undefined;
  let stopped = false;
  const once = (): void => {
    if (running !== undefined || stopped) return;
    running = prune(new Date(now() - MANIFEST_UNUSED_MS).toISOString())
      .then(
        () => undefined,
        (err: Error) => warn(`desired manifests: the prune failed (the next one tries again): ${err.message}`),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(once, opts.everyMs ?? PRUNE_EVERY_MS);
  timer.unref();
  once();
  // stopped: no prune starts, and the one running ends before the store may close
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}

/** Forgets what this process read (tests: a read that must go to the store). */
export function forgetManifestsByHash(): void {
  byHash.clear();
  last = undefined;
}
