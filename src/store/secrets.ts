/**
 * Secrets (issue 11): one row per scope and name, the value sealed by the server (see
 * src/secrets/cipher.ts); this file never sees a value in clear.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, DbSecret } from './schema.js';
import type { SecretRow } from './types.js';

const fromDb = (r: DbSecret): SecretRow => ({
  scope: r.scope,
  name: r.name,
  sealed: r.sealed,
  keyId: r.key_id,
  version: Number(r.version),
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
  createdAt: r.created_at,
});

/**
 * Inserts a secret at version 1, or replaces its value with the next version; answers the row
 * as stored. The version is counted by the database, so two servers setting it at once get two.
 */
export async function putSecret(db: Kysely<Database>, row: Omit<SecretRow, 'version' | 'createdAt'>): Promise<SecretRow> {
  const r = await db
    .insertInto('secrets')
    .values({
      scope: row.scope,
      name: row.name,
      sealed: row.sealed,
      key_id: row.keyId,
      version: 1,
      updated_by: row.updatedBy,
      updated_at: row.updatedAt,
      created_at: row.updatedAt,
    })
    .onConflict((oc) =>
      oc.columns(['scope', 'name']).doUpdateSet({
        sealed: row.sealed,
        key_id: row.keyId,
        updated_by: row.updatedBy,
        updated_at: row.updatedAt,
        version: sql<number>`secrets.version + 1`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromDb(r);
}

export async function getSecret(db: Kysely<Database>, scope: string, name: string): Promise<SecretRow | undefined> {
  const r = await db.selectFrom('secrets').selectAll().where('scope', '=', scope).where('name', '=', name).executeTakeFirst();
  return r && fromDb(r);
}

/** Every secret with the name `name`, or every secret; by scope, then name. */
export async function listSecrets(db: Kysely<Database>, name?: string): Promise<SecretRow[]> {
  let q = db.selectFrom('secrets').selectAll();
  if (name !== undefined) q = q.where('name', '=', name);
  return (await q.orderBy('scope').orderBy('name').execute()).map(fromDb);
}

export async function deleteSecret(db: Kysely<Database>, scope: string, name: string): Promise<boolean> {
  const r = await db.deleteFrom('secrets').where('scope', '=', scope).where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
