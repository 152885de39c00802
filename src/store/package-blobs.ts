/**
 * Packages in the database (0015_package_blobs), so that every server of one PostgreSQL serves
 * what any of them stored (issue 14). A package is a header row (`package_blobs`: its sha256,
 * size and number of chunks) and its content in chunks of `PACKAGE_CHUNK_BYTES`
 * (`package_blob_chunks`). Both are written in one transaction, so a reader finds a package whole
 * or not at all; both ways are streamed, a chunk at a time, never the whole package in memory.
 *
 * The server's artifact store calls these through its `SharedArtifacts` port (artifacts/shared.ts),
 * on PostgreSQL only: one server on SQLite keeps its packages in its data folder alone.
 */
import type { Kysely, Migration } from 'kysely';
import { NoopsError } from '../errors/index.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/**
 * The size of one chunk: 1 MiB keeps a 500 MB package at 500 rows (one round trip each, a few
 * ms on a LAN) while a reader or writer holds at most two chunks in memory.
 */
export const PACKAGE_CHUNK_BYTES = 1024 * 1024;

/**
 * Migration 0015_package_blobs: the two tables. The chunks' table has no foreign key: the header
 * is written first and deleted last in the same transactions, and a key would only slow the writes.
 */
export function packageBlobsMigration(backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('package_blobs')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        // bigint: a package may be larger than 2 GiB
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('chunks', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('package_blob_chunks')
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('data', backend === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
        .addPrimaryKeyConstraint('package_blob_chunks_pk', ['sha256', 'seq'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('package_blob_chunks').ifExists().execute();
      await db.schema.dropTable('package_blobs').ifExists().execute();
    },
  };
}

/** A package every server can read; its content is in chunks (`package_blob_chunks`). */
export interface PackageBlobsTable {
  sha256: string;
  size: number;
  /** how many chunks: set when the last is written, in the same transaction */
  chunks: number;
  created_at: string;
}

/** One chunk of a package (`PACKAGE_CHUNK_BYTES`, the last shorter), by its place from 0. */
export interface PackageBlobChunksTable {
  sha256: string;
  seq: number;
  data: Uint8Array;
}

/** What the database holds of one package. */
export interface PackageBlobHead {
  sha256: string;
  size: number;
  chunks: number;
}

/**
 * Cuts a stream's pieces (of any size) into chunks of exactly `size` bytes, the last shorter.
 * Holds at most one chunk and one piece.
 */
export async function* rechunk(pieces: AsyncIterable<Buffer | Uint8Array>, size = PACKAGE_CHUNK_BYTES): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const piece of pieces) {
    let rest = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    while (heldBytes + rest.length >= size) {
      const take = size - heldBytes;
      held.push(rest.subarray(0, take));
      yield Buffer.concat(held, size);
      rest = rest.subarray(take);
      held = [];
      heldBytes = 0;
    }
    if (rest.length > 0) {
      held.push(rest);
      heldBytes += rest.length;
    }
  }
  if (heldBytes > 0) yield Buffer.concat(held, heldBytes);
}

/**
 * Writes a package, in one transaction: the header first (a second writer of the same sha256
 * waits on it, then finds it there), then its chunks. Answers false, reading nothing of
 * `content`, when the database holds it already.
 *
 * @throws NoopsError NOOPS_E_SHA256_MISMATCH when `content` is not `size` bytes (nothing is written)
 */
export async function putPackageBlob(
  db: Kysely<Database>,
  sha256: string,
  size: number,
  content: () => AsyncIterable<Buffer | Uint8Array>,
): Promise<boolean> {
  if (await headOf(db, sha256)) return false; // the common case for a package shared before: no transaction
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('package_blobs')
      .values({ sha256, size, chunks: 0, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .returning('sha256')
      .executeTakeFirst();
    if (inserted === undefined) return false;
    let seq = 0;
    let written = 0;
    for await (const data of rechunk(content())) {
      await trx.insertInto('package_blob_chunks').values({ sha256, seq, data }).execute();
      seq += 1;
      written += data.length;
    }
    if (written !== size) {
      // the file changed under the reader: roll back rather than keep a package that lies
      throw new NoopsError('NOOPS_E_SHA256_MISMATCH', `package ${sha256} was ${written} bytes when shared, not ${size}`);
    }
    await trx.updateTable('package_blobs').set({ chunks: seq }).where('sha256', '=', sha256).execute();
    return true;
  });
}

/** The header of a package the database holds, or undefined. */
export async function headOf(db: Kysely<Database>, sha256: string): Promise<PackageBlobHead | undefined> {
  const row = await db.selectFrom('package_blobs').select(['sha256', 'size', 'chunks']).where('sha256', '=', sha256).executeTakeFirst();
  return row && { sha256: row.sha256, size: Number(row.size), chunks: Number(row.chunks) };
}

/**
 * A package's content, chunk by chunk (one query each, the next read while the last is used), or
 * undefined when the database does not hold it.
 *
 * @throws NoopsError NOOPS_E_NOT_FOUND (while reading) when a chunk is gone
 */
export async function readPackageBlob(db: Kysely<Database>, sha256: string): Promise<AsyncIterable<Buffer> | undefined> {
  const head = await headOf(db, sha256);
  if (!head) return undefined;
  const chunk = async (seq: number): Promise<Buffer> => {
    const row = await db
      .selectFrom('package_blob_chunks')
      .select('data')
      .where('sha256', '=', sha256)
      .where('seq', '=', seq)
      .executeTakeFirst();
    if (!row) throw new NoopsError('NOOPS_E_NOT_FOUND', `chunk ${seq} of package ${sha256} is not in the database`);
    return Buffer.isBuffer(row.data) ? row.data : Buffer.from(row.data); // pg gives a Buffer: no copy
  };
  return (async function* () {
    let next = head.chunks > 0 ? chunk(0) : undefined;
    for (let seq = 0; seq < head.chunks; seq++) {
      const current = await next!;
      next = seq + 1 < head.chunks ? chunk(seq + 1) : undefined;
      // marked as handled only: the next turn awaits it and rethrows its error; a reader that stops
      // early never asks for it, and its failure then concerns no one
      next?.catch(() => undefined);
      yield current;
    }
  })();
}
