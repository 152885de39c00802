/**
 * Leases and the servers that hold them: how several servers on one database agree, with no
 * consensus of their own, which one runs each control loop (rollouts now; the judge, the
 * scheduler and migration later). PostgreSQL is the source of truth:
 *
 * - a lease is a row per loop (`leases`): its holder, an epoch, and an expiry in the database's
 *   clock (never a server's: two servers' clocks may differ);
 * - taking or renewing it is one atomic upsert that succeeds only for its holder or once it has
 *   expired; a change of holder raises the epoch;
 * - every write of a loop's leader runs in a transaction that first reads its lease row with
 *   FOR SHARE (`checkFence`): the write is refused unless the row still names this holder and
 *   epoch and has not expired, and a server taking the lease over waits for that transaction.
 *   That is the fence: a server paused past its lease (SIGSTOP, a long GC) that wakes up and
 *   writes is refused, whatever it still believes.
 *
 * Session-level advisory locks were the other way: they need no expiry, but a paused process
 * keeps its connection, so it keeps its lock, and no one takes over.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { NoopsError } from '../errors/index.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';
import type { Fence, ServerRow } from './types.js';

/** Now, in milliseconds since the epoch, by the database's clock. */
function nowMs(backend: Backend): RawBuilder<number> {
  return backend === 'postgres'
    ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}

/**
 * Takes the loop's lease for `holder`, or renews it, for `ttlMs` from now (the database's now).
 * Answers its epoch, or undefined while another holder's lease runs. A holder that renews keeps
 * its epoch; a new holder gets the old epoch + 1. `force` takes it whoever holds it: only for a
 * server that knows it is alone (SQLite, after checking that no other server is alive).
 */
export async function acquireLease(
  db: Kysely<Database>,
  backend: Backend,
  loop: string,
  holder: string,
  ttlMs: number,
  force = false,
): Promise<number | undefined> {
  const now = nowMs(backend);
  const r = await sql<{ epoch: number | string }>`
    insert into leases (loop, holder, epoch, expires_at)
    values (${loop}, ${holder}, 1, ${now} + ${Math.round(ttlMs)})
    on conflict (loop) do update set
      epoch = case when leases.holder = excluded.holder then leases.epoch else leases.epoch + 1 end,
      holder = excluded.holder,
      expires_at = excluded.expires_at
    where leases.holder = excluded.holder or leases.expires_at < ${now} or ${force ? sql`1 = 1` : sql`1 = 0`}
    returning epoch`.execute(db);
  const row = r.rows[0];
  return row === undefined ? undefined : Number(row.epoch);
}

/** Gives the lease up at once (a server stopping cleanly): the next server need not wait for it to expire. */
export async function releaseLease(db: Kysely<Database>, loop: string, holder: string): Promise<void> {
  // expired, not deleted: the epoch must keep rising across holders
  await db.updateTable('leases').set({ expires_at: 0 }).where('loop', '=', loop).where('holder', '=', holder).execute();
}

/**
 * Refuses (NOOPS_E_FENCED) unless `fence` still holds: its loop's lease names its holder and
 * epoch and has not expired. Call it first in the transaction of the write it guards: on
 * PostgreSQL the lease row stays share-locked until that transaction ends, so a takeover (which
 * updates the row) waits for the write to commit, and the new leader reads it.
 */
export async function checkFence(db: Kysely<Database>, backend: Backend, fence: Fence): Promise<void> {
  const lock = backend === 'postgres' ? sql` for share` : sql``;
  const r = await sql<{ holder: string; epoch: number | string; live: number | boolean }>`
    select holder, epoch, (expires_at > ${nowMs(backend)}) as live from leases where loop = ${fence.loop}${lock}`.execute(db);
  const row = r.rows[0];
  if (row && row.holder === fence.holder && Number(row.epoch) === fence.epoch && (row.live === true || row.live === 1)) return;
  const why = !row
    ? 'no server holds it'
    : row.holder !== fence.holder || Number(row.epoch) !== fence.epoch
      ? `server ${row.holder} holds it now (epoch ${Number(row.epoch)})`
      : 'its lease expired before it was renewed';
  throw new NoopsError(
    'NOOPS_E_FENCED',
    `server ${fence.holder} no longer leads the ${fence.loop} loop (epoch ${fence.epoch}): ${why}; the write was refused`,
  );
}

/** Now by the database's clock, in milliseconds since the epoch: what servers whose clocks differ agree on. */
export async function databaseNow(db: Kysely<Database>, backend: Backend): Promise<number> {
  const r = await sql<{ now: number | string }>`select ${nowMs(backend)} as now`.execute(db);
  return Number(r.rows[0]!.now);
}

/** Records that a server is alive, and where it answers. */
export async function touchServer(db: Kysely<Database>, server: { id: string; address: string; startedAt: string }): Promise<void> {
  const at = new Date().toISOString();
  await db
    .insertInto('servers')
    .values({ id: server.id, address: server.address, started_at: server.startedAt, last_seen: at })
    .onConflict((oc) => oc.column('id').doUpdateSet({ address: server.address, last_seen: at }))
    .execute();
}

/** Forgets a server (it stopped cleanly), or those not seen since `before` (ISO time). */
export async function removeServers(db: Kysely<Database>, which: { id: string } | { before: string }): Promise<void> {
  const q = db.deleteFrom('servers');
  await ('id' in which ? q.where('id', '=', which.id) : q.where('last_seen', '<', which.before)).execute();
}

/** Every server known, with the loops whose live lease it holds; by id. */
export async function listServers(db: Kysely<Database>, backend: Backend): Promise<ServerRow[]> {
  const servers = await db.selectFrom('servers').selectAll().orderBy('id').execute();
  const leases = await sql<{ loop: string; holder: string }>`
    select loop, holder from leases where expires_at > ${nowMs(backend)} order by loop`.execute(db);
  return servers.map((s) => ({
    id: s.id,
    address: s.address,
    startedAt: s.started_at,
    lastSeen: s.last_seen,
    leads: leases.rows.filter((l) => l.holder === s.id).map((l) => l.loop),
  }));
}
