/**
 * A deployment read without its hosts' lists (issue 19): its head (the row without `hosts`,
 * `previous` and `host_results`, its host count worked out by the database), its hosts counted
 * per batch and state by the database from their rows (store/deployment-hosts.ts), and the rows
 * of the few hosts a summary lists. At 10,000 hosts the whole deployment is about 3 MB of JSON
 * read and parsed per call; its head and counts are a few kB.
 */
import type { Kysely, RawBuilder } from 'kysely';
import { sql } from 'kysely';
import { inChunks } from './batch.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';
import type {
  DeploymentHeadFilter,
  DeploymentHeadRow,
  DeploymentHostCount,
  DeploymentHostEntry,
  DeploymentKind,
  DeploymentStatus,
} from './types.js';

/** A field of a host's stored progress (a JSON text), as text: the same SQL on both backends but for the JSON function. */
function field(backend: Backend, name: 'state' | 'batch' | 'reason'): RawBuilder<string | null> {
  // the key written into the statement (one of three names): PostgreSQL cannot tell `json ->> $1`'s operator from an untyped parameter
  return backend === 'sqlite'
    ? sql<string | null>`json_extract(progress, ${sql.lit(`$.${name}`)})`
    : sql<string | null>`(progress::json ->> ${sql.lit(name)})`;
}

/** The heads of the deployments the filter names, newest first (by id). */
export async function listDeploymentHeads(
  db: Kysely<Database>,
  backend: Backend,
  filter: DeploymentHeadFilter,
): Promise<DeploymentHeadRow[]> {
  const hostCount = backend === 'sqlite' ? sql<number>`json_array_length(hosts)` : sql<number>`json_array_length(hosts::json)`;
  let q = db
    .selectFrom('deployments')
    .select(['id', 'tag', 'version', 'kind', 'initiator', 'started_at', 'ended_at', 'status', 'conf', 'message', 'deadline', 'progress'])
    .select(hostCount.as('host_count'));
  if (filter.ids !== undefined) {
    if (filter.ids.length === 0) return [];
    q = q.where('id', 'in', [...filter.ids]);
  }
  if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
  if (filter.tag !== undefined) q = q.where('tag', '=', filter.tag);
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  q = q.orderBy('id', 'desc');
  if (filter.limit !== undefined) q = q.limit(filter.limit);
  return (await q.execute()).map((r) => ({
    id: Number(r.id),
    tag: r.tag,
    version: r.version,
    kind: r.kind as DeploymentKind,
    initiator: r.initiator,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    status: r.status as DeploymentStatus,
    conf: JSON.parse(r.conf) as Record<string, unknown>,
    message: r.message,
    deadline: r.deadline,
    progress: JSON.parse(r.progress) as Record<string, unknown>,
    hostCount: Number(r.host_count),
  }));
}

/** The deployments' hosts that have a row, counted per batch, state and whether they failed (one query for all). */
export async function countDeploymentHosts(db: Kysely<Database>, backend: Backend, ids: readonly number[]): Promise<DeploymentHostCount[]> {
  const out: DeploymentHostCount[] = [];
  const state = field(backend, 'state');
  const batch = field(backend, 'batch');
  // a host failed: `failed`, or `reverted` with a reason (sent back after failing)
  const failed = sql<number>`case when ${state} = 'failed' or (${state} = 'reverted' and ${field(backend, 'reason')} is not null) then 1 else 0 end`;
  for (const part of inChunks([...ids])) {
    const rows = await db
      .selectFrom('deployment_hosts')
      .select(['deployment_id', state.as('state'), batch.as('batch'), failed.as('failed'), sql<number>`count(*)`.as('count')])
      .where('deployment_id', 'in', part)
      .groupBy(['deployment_id', sql`2`, sql`3`, sql`4`])
      .execute();
    for (const r of rows) {
      out.push({
        deploymentId: Number(r.deployment_id),
        state: String(r.state),
        batch: Number(r.batch),
        failed: Number(r.failed) === 1,
        count: Number(r.count),
      });
    }
  }
  return out;
}

/**
 * The rows of one deployment's hosts in these batches whose state is one of `states` or that
 * failed, each with the version it ran before (the row's `previous` column is read only when
 * some host is found).
 */
export async function deploymentHostsWhere(
  db: Kysely<Database>,
  backend: Backend,
  id: number,
  q: { batches: readonly number[]; states: readonly string[] },
): Promise<DeploymentHostEntry[]> {
  if (q.batches.length === 0) return [];
  const state = field(backend, 'state');
  const rows = await db
    .selectFrom('deployment_hosts')
    .select(['host', 'progress', 'result'])
    .where('deployment_id', '=', id)
    .where(sql<boolean>`${field(backend, 'batch')} in (${sql.join([...q.batches])})`)
    .where(
      sql<boolean>`(${state} in (${sql.join([...q.states, 'failed'])}) or (${state} = 'reverted' and ${field(backend, 'reason')} is not null))`,
    )
    .execute();
  if (rows.length === 0) return [];
  const head = await db.selectFrom('deployments').select('previous').where('id', '=', id).executeTakeFirst();
  const previous = head ? (JSON.parse(head.previous) as Record<string, string | null>) : {};
  return rows.map((r) => ({
    host: r.host,
    progress: JSON.parse(r.progress) as Record<string, unknown>,
    result: r.result,
    previous: previous[r.host] ?? null,
  }));
}
