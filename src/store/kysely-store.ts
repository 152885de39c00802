/**
 * The store on kysely: one implementation for SQLite and PostgreSQL. Dialect differences are
 * confined to `open.ts`, `migrations.ts` and the heartbeat hot path (`heartbeats.ts`); every
 * other query is portable SQL (upserts with ON CONFLICT, RETURNING), which SQLite supports
 * since 3.35.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { NoopsError } from '../errors/index.js';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';
import { chunks, inChunks } from './batch.js';
import { assemble, cutRange, pieces as logPieces } from './build-log.js';
import {
  desiredGeneration,
  desiredGenerations,
  GenerationBatch,
  getDesired,
  getDesiredMany,
  raiseDesiredGeneration,
  listDesired,
  listDesiredHeads,
  listInstances,
  replaceInstances,
  replaceInstancesMany,
  setDesired,
  setDesiredMany,
} from './desired.js';
import { touchHosts } from './heartbeats.js';
import * as leases from './leases.js';
import { listHostReports, putHostReports } from './host-reports.js';
import type { StoredHostReport } from './types.js';
import * as secrets from './secrets.js';
import * as packageBlobs from './package-blobs.js';
import * as commands from './agent-commands.js';
import * as metrics from './metrics.js';
import { strategyQueries, type StrategyQueries } from './strategies.js';
import * as naming from './naming.js';
import * as placements from './placements.js';
import { balancerQueries, type BalancerQueries } from './balancers.js';
import type { AgentCommandPost, AgentCommandPostOutcome, AgentCommandRow, AgentCommandSweep, NewAgentCommand } from './agent-commands.js';
import * as m from './rows.js';
import { withDeploymentHosts, writeDeploymentHosts } from './deployment-hosts.js';
import { pruneDesiredManifests } from './desired-manifests.js';
import { stagedMany, stagePackage, unstagePackage } from './staged.js';
import { countDeploymentHosts, deploymentHostsWhere, listDeploymentHeads } from './deployment-heads.js';
import { KyselyAlarmStore } from './alarms.js';
import { networkQueries, type NetworkStore } from './networks.js';
import { scheduleQueries, type ScheduleStore } from './schedule.js';
import { replicaQueries, type ReplicaStore } from './replicas.js';
import type {
  AuditRow,
  Fence,
  ServerRow,
  BuildRow,
  BuildStatus,
  ClusterRow,
  DeploymentHeadFilter,
  DeploymentHeadRow,
  DeploymentHostCount,
  DeploymentHostEntry,
  DeploymentKind,
  DeploymentPatch,
  DeploymentRow,
  DeploymentStatus,
  DesiredHead,
  DesiredRow,
  StagedPackageRow,
  GrantRow,
  HostJoin,
  HostRow,
  InstanceRow,
  NewDeployment,
  NodeRow,
  ReleaseRow,
  RunningDeploymentRow,
  RuntimeRow,
  SecretRow,
  Store,
  TokenRow,
} from './types.js';

/** The largest position in a build's log the store can hold (PostgreSQL's integer). */
const MAX_LOG_POSITION = 2 ** 31 - 1;

/**
 * A `Store` on an open, migrated kysely instance. Build it with `openStore()`.
 */
export class KyselyStore implements Store {
  #closed = false;
  #generations: GenerationBatch | undefined;

  /**
   * @param db an open, migrated database
   * @param kind its backend
   * @param release closes the database (or this store's share of it)
   */
  constructor(
    private readonly db: Kysely<Database>,
    readonly kind: Backend,
    private readonly release: () => Promise<void>,
  ) {}

  async close(): Promise<void> {
    // pg's Pool.end() throws when called twice; closing twice is harmless here.
    if (this.#closed) return;
    this.#closed = true;
    await this.release();
  }

  // ---- tokens and meta

  async tx<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    return this.db.transaction().execute((trx) => fn(new KyselyStore(joinable(trx), this.kind, async () => undefined)));
  }

  async putToken(row: TokenRow): Promise<void> {
    const { hash, ...rest } = m.tokenToDb(row);
    await this.db
      .insertInto('tokens')
      .values({ hash, ...rest })
      .onConflict((oc) => oc.column('hash').doUpdateSet(rest))
      .execute();
  }

  async listTokens(): Promise<TokenRow[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().orderBy('created_at', 'desc').orderBy('hash').execute();
    return rows.map(m.tokenFromDb);
  }

  async deleteToken(hash: string): Promise<boolean> {
    const r = await this.db.deleteFrom('tokens').where('hash', '=', hash).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async useToken(hash: string): Promise<boolean> {
    const row = await this.db.selectFrom('tokens').select('uses_left').where('hash', '=', hash).executeTakeFirst();
    if (!row) return false;
    if (row.uses_left === null) return true;
    // One statement decides: two joins racing for the last use cannot both get it.
    const r = await this.db
      .updateTable('tokens')
      .set((eb) => ({ uses_left: eb('uses_left', '-', 1) }))
      .where('hash', '=', hash)
      .where('uses_left', '>', 0)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async findToken(hash: string): Promise<TokenRow | undefined> {
    const r = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return r && m.tokenFromDb(r);
  }

  async deleteTokens(kind: TokenRow['kind'], name: string): Promise<void> {
    await this.db.deleteFrom('tokens').where('kind', '=', kind).where('name', '=', name).execute();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  async getMetaMany(keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const batch of inChunks([...new Set(keys)])) {
      for (const r of await this.db.selectFrom('meta').select(['key', 'value']).where('key', 'in', batch).execute())
        out.set(r.key, r.value);
    }
    return out;
  }

  async initMeta(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await this.getMeta(key)) ?? value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  // ---- the tree

  async ensureNodes(rows: NodeRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const batch of chunks(rows)) {
        await trx
          .insertInto('nodes')
          .values(batch.map((r) => ({ tag: r.tag, level: r.level, parent: r.parent, created_at: r.createdAt })))
          .onConflict((oc) => oc.column('tag').doNothing())
          .execute();
      }
    });
  }

  async listNodes(): Promise<NodeRow[]> {
    const rows = await this.db.selectFrom('nodes').selectAll().orderBy('tag').execute();
    return rows.map(m.nodeFromDb);
  }

  // ---- hosts

  async upsertHost(row: HostJoin): Promise<void> {
    await this.db
      .insertInto('hosts')
      .values({
        name: row.name,
        labels: m.toJson(row.labels),
        address: row.address,
        joined_at: row.joinedAt,
        last_heartbeat: null,
        scope: null,
        pending_join: null,
        join_approved_until: null,
        peer_url: row.peerUrl ?? null,
      })
      // joined_at and last_heartbeat stay as they were; a join says its peer URL again (none: none)
      .onConflict((oc) =>
        oc.column('name').doUpdateSet((eb) => ({
          labels: eb.ref('excluded.labels'),
          address: eb.ref('excluded.address'),
          peer_url: eb.ref('excluded.peer_url'),
        })),
      )
      .execute();
  }

  async updateHost(name: string, patch: Partial<Pick<HostRow, 'scope' | 'pendingJoin' | 'joinApprovedUntil'>>): Promise<void> {
    const set: Partial<Record<'scope' | 'pending_join' | 'join_approved_until', string | null>> = {};
    if (patch.scope !== undefined) set.scope = patch.scope;
    if (patch.pendingJoin !== undefined) set.pending_join = patch.pendingJoin === null ? null : m.toJson(patch.pendingJoin);
    if (patch.joinApprovedUntil !== undefined) set.join_approved_until = patch.joinApprovedUntil;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable('hosts').set(set).where('name', '=', name).execute();
  }

  async deleteHost(name: string): Promise<void> {
    // The host's desired generation stays: if it joins again, its generations go on rising.
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('tokens').where('kind', '=', 'agent').where('name', '=', name).execute();
      await trx.deleteFrom('desired').where('host', '=', name).execute();
      await trx.deleteFrom('instances').where('host', '=', name).execute();
      await trx.deleteFrom('host_reports').where('host', '=', name).execute();
      await trx.deleteFrom('network_subnets').where('host', '=', name).execute(); // its subnet is free for the next host
      await trx.deleteFrom('hosts').where('name', '=', name).execute();
    });
  }

  async getHost(name: string): Promise<HostRow | undefined> {
    const r = await this.db.selectFrom('hosts').selectAll().where('name', '=', name).executeTakeFirst();
    return r && m.hostFromDb(r);
  }

  async listHosts(): Promise<HostRow[]> {
    const rows = await this.db.selectFrom('hosts').selectAll().orderBy('name').execute();
    return rows.map(m.hostFromDb);
  }

  async listHostsNamed(names: readonly string[]): Promise<HostRow[]> {
    const out: HostRow[] = [];
    for (const part of inChunks([...new Set(names)])) {
      out.push(...(await this.db.selectFrom('hosts').selectAll().where('name', 'in', part).execute()).map(m.hostFromDb));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async joinedHostNames(names: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const part of inChunks([...new Set(names)])) {
      for (const r of await this.db.selectFrom('hosts').select('name').where('name', 'in', part).execute()) out.push(r.name);
    }
    return out.sort();
  }

  async touchHosts(beats: { name: string; at: string }[]): Promise<void> {
    await touchHosts(this.db, this.kind, beats);
  }

  // ---- clusters

  async putCluster(row: ClusterRow): Promise<void> {
    const values = { tag: row.tag, hosts: m.toJson(row.hosts), policy: m.toJson(row.policy), conf: row.conf, updated_at: row.updatedAt };
    await this.db
      .insertInto('clusters')
      .values(values)
      .onConflict((oc) =>
        oc.column('tag').doUpdateSet({ hosts: values.hosts, policy: values.policy, conf: values.conf, updated_at: values.updated_at }),
      )
      .execute();
  }

  async getCluster(tag: string): Promise<ClusterRow | undefined> {
    const r = await this.db.selectFrom('clusters').selectAll().where('tag', '=', tag).executeTakeFirst();
    return r && m.clusterFromDb(r);
  }

  async listClusters(opts: { scheduled?: boolean } = {}): Promise<ClusterRow[]> {
    const rows = await this.db
      .selectFrom('clusters')
      .selectAll()
      .$if(opts.scheduled === true, (q) => q.where('schedule', 'is not', null))
      .orderBy('tag')
      .execute();
    return rows.map(m.clusterFromDb);
  }

  // ---- releases

  async putRelease(row: ReleaseRow): Promise<void> {
    // Insert-or-nothing first, then compare: correct when two servers store one release at once.
    const inserted = await this.db
      .insertInto('releases')
      .values(m.releaseToDb(row))
      .onConflict((oc) => oc.columns(['job', 'version']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted !== undefined) return;
    const existing = await this.db
      .selectFrom('releases')
      .select('sha256')
      .where('job', '=', row.job)
      .where('version', '=', row.version)
      .executeTakeFirstOrThrow();
    if (existing.sha256 === row.sha256) return;
    throw new Error(
      `release ${row.job} version ${row.version} already exists with other content ` +
        `(sha256 ${existing.sha256}, not ${row.sha256}); a release is immutable: build a new commit`,
    );
  }

  async getRelease(job: string, version: string): Promise<ReleaseRow | undefined> {
    const r = await this.db.selectFrom('releases').selectAll().where('job', '=', job).where('version', '=', version).executeTakeFirst();
    return r && m.releaseFromDb(r);
  }

  async listReleases(job?: string): Promise<ReleaseRow[]> {
    let q = this.db.selectFrom('releases').selectAll();
    if (job !== undefined) q = q.where('job', '=', job);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(m.releaseFromDb);
  }

  async setReleaseSignature(job: string, version: string, signature: { keyId: string; value: string }): Promise<boolean> {
    // Only an unsigned release: a signature once written is never replaced (docs/trust.md).
    const r = await this.db
      .updateTable('releases')
      .set({ signature: signature.value, signature_key: signature.keyId })
      .where('job', '=', job)
      .where('version', '=', version)
      .where('signature', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // ---- builds

  async createBuild(row: Omit<BuildRow, 'id'>): Promise<number> {
    const r = await this.db
      .insertInto('builds')
      .values(m.buildToDb({ ...row, log: '' }))
      .returning('id')
      .executeTakeFirstOrThrow();
    const id = Number(r.id);
    await this.appendBuildLog(id, row.log);
    return id;
  }

  async updateBuild(id: number, patch: Partial<Omit<BuildRow, 'id'>>): Promise<void> {
    const { log, ...rest } = patch;
    const set = m.buildPatchToDb(rest);
    if (Object.keys(set).length > 0) await this.db.updateTable('builds').set(set).where('id', '=', id).execute();
    if (log === undefined) return;
    // Replacing a log is rare (tests, repairs); a running build appends.
    await this.tx(async (t) => {
      await (t as KyselyStore).db.deleteFrom('build_logs').where('build_id', '=', id).execute();
      await t.appendBuildLog(id, log);
    });
  }

  async appendBuildLog(id: number, text: string): Promise<void> {
    if (text === '') return;
    // New pieces only: the log's rows are never rewritten. One transaction, so that a reader
    // never sees the new tail before the middle it replaces is cut.
    await this.db.transaction().execute(async (trx) => {
      const last = await trx
        .selectFrom('build_logs')
        .select(['pos', 'chars'])
        .where('build_id', '=', id)
        .orderBy('pos', 'desc')
        .limit(1)
        .executeTakeFirst();
      const start = last === undefined ? 0 : Number(last.pos) + Number(last.chars);
      const cut = cutRange(start + text.length);
      // Pieces that would be cut at once are never written: a 40 MB burst costs ~1 MB of writes.
      const keep = logPieces(text, start).filter((p) => cut === undefined || !(p.pos >= cut.from && p.pos + p.text.length <= cut.before));
      for (const batch of chunks(keep, 16)) {
        await trx
          .insertInto('build_logs')
          .values(batch.map((p) => ({ build_id: id, pos: p.pos, chars: p.text.length, text: p.text })))
          .execute();
      }
      if (cut === undefined) return;
      await trx
        .deleteFrom('build_logs')
        .where('build_id', '=', id)
        .where('pos', '>=', cut.from)
        .where('pos', '<', cut.before)
        .where(sql<boolean>`pos + chars <= ${cut.before}`)
        .execute();
    });
  }

  async readBuildLog(id: number, from = 0): Promise<{ text: string; end: number }> {
    // Positions are whole and below 2^31 (PostgreSQL's integer): a position past that reads nothing.
    from = Math.max(0, Math.floor(from));
    if (from > MAX_LOG_POSITION) return { text: '', end: from };
    const rows = await this.db
      .selectFrom('build_logs')
      .select(['pos', 'chars', 'text'])
      .where('build_id', '=', id)
      .where(sql<boolean>`pos + chars > ${from}`)
      .orderBy('pos')
      .execute();
    if (rows.length === 0) {
      // Nothing new: the end is that of the last piece (or 0), never before the reader.
      const last = await this.db
        .selectFrom('build_logs')
        .select(['pos', 'chars'])
        .where('build_id', '=', id)
        .orderBy('pos', 'desc')
        .limit(1)
        .executeTakeFirst();
      return { text: '', end: Math.max(from, last === undefined ? 0 : Number(last.pos) + Number(last.chars)) };
    }
    return assemble(
      rows.map((r) => ({ pos: Number(r.pos), text: r.text })),
      from,
    );
  }

  async getBuild(id: number): Promise<BuildRow | undefined> {
    const r = await this.db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
    return r && { ...m.buildFromDb(r), log: (await this.readBuildLog(id)).text };
  }

  async listBuilds(filter: { id?: number; status?: BuildStatus; job?: string; limit?: number } = {}): Promise<BuildRow[]> {
    // Every column but the log, which can be megabytes per build.
    let q = this.db
      .selectFrom('builds')
      .select(['id', 'repo', 'job', 'ref', 'status', 'version', 'initiator', 'started_at', 'ended_at', 'error', sql<string>`''`.as('log')]);
    if (filter.id !== undefined) q = q.where('id', '=', filter.id);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.job !== undefined) q = q.where('job', '=', filter.job);
    q = q.orderBy('id', 'desc');
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return (await q.execute()).map(m.buildFromDb);
  }

  get networks(): NetworkStore {
    return networkQueries(this.db);
  }

  get schedule(): ScheduleStore {
    return scheduleQueries(this.db);
  }

  get replicas(): ReplicaStore {
    return replicaQueries(this.db);
  }

  get alarms(): KyselyAlarmStore {
    return new KyselyAlarmStore(this.db, this.kind);
  }

  // ---- leases and servers (store/leases.ts)

  async fenced<T>(fence: Fence, fn: (store: Store) => Promise<T>): Promise<T> {
    return this.tx(async (store) => {
      await leases.checkFence((store as KyselyStore).db, this.kind, fence);
      return fn(store);
    });
  }

  acquireLease(loop: string, holder: string, ttlMs: number, force?: boolean): Promise<number | undefined> {
    return leases.acquireLease(this.db, this.kind, loop, holder, ttlMs, force);
  }

  releaseLease(loop: string, holder: string): Promise<void> {
    return leases.releaseLease(this.db, loop, holder);
  }

  touchServer(server: { id: string; address: string; startedAt: string }): Promise<void> {
    return leases.touchServer(this.db, server);
  }

  removeServers(which: { id: string } | { before: string }): Promise<void> {
    return leases.removeServers(this.db, which);
  }

  listServers(): Promise<ServerRow[]> {
    return leases.listServers(this.db, this.kind);
  }

  databaseNow(): Promise<number> {
    return leases.databaseNow(this.db, this.kind);
  }

  // ---- deployments

  async createDeployment(row: NewDeployment): Promise<number> {
    try {
      const r = await this.db.insertInto('deployments').values(m.deploymentToDb(row)).returning('id').executeTakeFirstOrThrow();
      return Number(r.id);
    } catch (err) {
      // The unique index of running deployments per tag (0011_deploy_lock) is the cluster's lock.
      if (row.status === 'running' && isDeployLockViolation(err)) {
        throw new NoopsError('NOOPS_E_DEPLOY_LOCKED', `another deployment of ${row.tag} is running`, { cause: err });
      }
      throw err;
    }
  }

  async updateDeployment(id: number, patch: DeploymentPatch): Promise<void> {
    const { hostChanges, ...columns } = patch;
    const set = m.deploymentPatchToDb(columns);
    const hosts = hostChanges ?? [];
    if (Object.keys(set).length === 0 && hosts.length === 0) return;
    // the columns and the hosts together, or neither (a fenced write is in a transaction already)
    await this.tx(async (s) => {
      const { db } = s as KyselyStore;
      if (Object.keys(set).length > 0) await db.updateTable('deployments').set(set).where('id', '=', id).execute();
      if (hosts.length > 0) await writeDeploymentHosts(db, id, hosts);
    });
  }

  async getDeployment(id: number): Promise<DeploymentRow | undefined> {
    const r = await this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    return r && (await withDeploymentHosts(this.db, [m.deploymentFromDb(r)]))[0];
  }

  async findRunningDeployment(tag: string): Promise<RunningDeploymentRow | undefined> {
    const r = await this.db
      .selectFrom('deployments')
      .select(['id', 'tag', 'version', 'kind', 'initiator', 'started_at'])
      .where('tag', '=', tag)
      .where('status', '=', 'running')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return (
      r && {
        id: Number(r.id),
        tag: r.tag,
        version: r.version,
        kind: r.kind as DeploymentKind,
        initiator: r.initiator,
        startedAt: r.started_at,
      }
    );
  }

  async runningDeploymentIds(): Promise<{ id: number; kind: DeploymentKind; tag: string }[]> {
    const rows = await this.db
      .selectFrom('deployments')
      .select(['id', 'kind', 'tag'])
      .where('status', '=', 'running')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: Number(r.id), kind: r.kind as DeploymentKind, tag: r.tag }));
  }

  listDeploymentHeads(filter: DeploymentHeadFilter): Promise<DeploymentHeadRow[]> {
    return listDeploymentHeads(this.db, this.kind, filter);
  }

  countDeploymentHosts(ids: readonly number[]): Promise<DeploymentHostCount[]> {
    return countDeploymentHosts(this.db, this.kind, ids);
  }

  deploymentHostsWhere(id: number, q: { batches: readonly number[]; states: readonly string[] }): Promise<DeploymentHostEntry[]> {
    return deploymentHostsWhere(this.db, this.kind, id, q);
  }

  async listDeployments(
    filter: { tag?: string; status?: DeploymentStatus; limit?: number; beforeId?: number } = {},
  ): Promise<DeploymentRow[]> {
    let q = this.db.selectFrom('deployments').selectAll();
    if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
    if (filter.tag !== undefined) q = q.where('tag', '=', filter.tag);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    q = q.orderBy('id', 'desc');
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return withDeploymentHosts(this.db, (await q.execute()).map(m.deploymentFromDb));
  }

  // ---- desired state

  async setDesired(host: string, tag: string, row: DesiredRow | null): Promise<number> {
    return setDesired(this.db, host, tag, row);
  }

  async setDesiredMany(tag: string, changes: { host: string; row: DesiredRow | null }[]): Promise<void> {
    await setDesiredMany(this.db, tag, changes);
  }

  pruneDesiredManifests(before: string): Promise<number> {
    return pruneDesiredManifests(this.db, before);
  }

  async getDesired(host: string): Promise<{ generation: number; entries: DesiredRow[] }> {
    return getDesired(this.db, host);
  }

  getDesiredMany(hosts: readonly string[]): Promise<Map<string, { generation: number; entries: DesiredRow[] }>> {
    return getDesiredMany(this.db, hosts);
  }

  async desiredGeneration(host: string): Promise<number> {
    // batched outside a transaction (GenerationBatch); inside one, read where the transaction reads
    if (this.db.isTransaction) return desiredGeneration(this.db, host);
    this.#generations ??= new GenerationBatch((hosts) => desiredGenerations(this.db, hosts));
    return this.#generations.get(host);
  }
  async raiseDesiredGeneration(host: string, atLeast: number): Promise<number> {
    return raiseDesiredGeneration(this.db, host, atLeast);
  }

  async listDesired(tag?: string): Promise<DesiredRow[]> {
    return listDesired(this.db, tag);
  }

  listDesiredHeads(tag: string): Promise<DesiredHead[]> {
    return listDesiredHeads(this.db, tag);
  }

  stagePackage(hosts: readonly string[], pkg: StagedPackageRow, until: number, now: number): Promise<void> {
    return stagePackage(this.db, hosts, pkg, until, now);
  }
  unstagePackage(tag: string, sha256: string): Promise<number> {
    return unstagePackage(this.db, tag, sha256);
  }
  stagedMany(hosts: readonly string[], now: number): Promise<Map<string, StagedPackageRow[]>> {
    return stagedMany(this.db, hosts, now);
  }

  // ---- instances

  async replaceInstances(host: string, rows: InstanceRow[]): Promise<void> {
    await replaceInstances(this.db, host, rows);
  }

  async replaceInstancesMany(byHost: { host: string; rows: InstanceRow[] }[]): Promise<void> {
    await replaceInstancesMany(this.db, byHost);
  }

  async listInstances(filter: { tag?: string; host?: string } = {}): Promise<InstanceRow[]> {
    return listInstances(this.db, filter);
  }

  async putHostReports(reports: StoredHostReport[]): Promise<string[]> {
    return putHostReports(this.db, this.kind, reports);
  }

  async listHostReports(hosts?: readonly string[]): Promise<StoredHostReport[]> {
    return listHostReports(this.db, this.kind, hosts);
  }

  recordNamingLookups(rows: readonly naming.NamingLookupRow[]): Promise<void> {
    return naming.recordNamingLookups(this.db, rows);
  }

  listNamingLookups(): Promise<naming.NamingLookupRow[]> {
    return naming.listNamingLookups(this.db);
  }

  recordPlacements(events: readonly placements.NewPlacementEvent[]): Promise<void> {
    return placements.recordPlacements(this.db, events);
  }

  listPlacements(q: placements.PlacementQuery): ReturnType<typeof placements.listPlacements> {
    return placements.listPlacements(this.db, q);
  }

  addStaleCopy(row: placements.StaleCopyRow): Promise<void> {
    return placements.addStaleCopy(this.db, row);
  }

  listStaleCopies(): Promise<placements.StaleCopyRow[]> {
    return placements.listStaleCopies(this.db);
  }

  removeStaleCopy(host: string, tag: string): Promise<boolean> {
    return placements.removeStaleCopy(this.db, host, tag);
  }

  // ---- runtimes

  async putRuntime(row: RuntimeRow): Promise<RuntimeRow> {
    // Insert-or-nothing, then read: correct when two servers add one runtime at once.
    await this.db
      .insertInto('runtimes')
      .values(m.runtimeToDb(row))
      .onConflict((oc) => oc.columns(['name', 'version']).doNothing())
      .execute();
    return (await this.getRuntime(row.name, row.version))!;
  }

  async getRuntime(name: string, version: string): Promise<RuntimeRow | undefined> {
    const r = await this.db.selectFrom('runtimes').selectAll().where('name', '=', name).where('version', '=', version).executeTakeFirst();
    return r && m.runtimeFromDb(r);
  }

  async listRuntimes(name?: string): Promise<RuntimeRow[]> {
    let q = this.db.selectFrom('runtimes').selectAll();
    if (name !== undefined) q = q.where('name', '=', name);
    return (await q.orderBy('name').orderBy('version').execute()).map(m.runtimeFromDb);
  }

  // ---- audit

  putPackageBlob(sha256: string, size: number, content: () => AsyncIterable<Buffer | Uint8Array>): Promise<boolean> {
    return packageBlobs.putPackageBlob(this.db, sha256, size, content);
  }

  readPackageBlob(sha256: string): Promise<AsyncIterable<Buffer> | undefined> {
    return packageBlobs.readPackageBlob(this.db, sha256);
  }

  async audit(row: Omit<AuditRow, 'id'>): Promise<void> {
    await this.db
      .insertInto('audit')
      .values({ at: row.at, actor: row.actor, action: row.action, target: row.target, detail: m.toJson(row.detail) })
      .execute();
  }

  async putGrant(row: GrantRow): Promise<void> {
    await this.db
      .insertInto('grants')
      .values({ scope: row.scope, grant: row.grant, created_by: row.createdBy, created_at: row.createdAt })
      .onConflict((oc) => oc.columns(['scope', 'grant']).doNothing())
      .execute();
  }

  async deleteGrant(scope: string, grant: GrantRow['grant']): Promise<boolean> {
    const r = await this.db.deleteFrom('grants').where('scope', '=', scope).where('grant', '=', grant).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listGrants(): Promise<GrantRow[]> {
    return (await this.db.selectFrom('grants').selectAll().orderBy('scope').execute()).map(m.grantFromDb);
  }

  // ---- secrets (queries in secrets.ts)

  putSecret(row: Omit<SecretRow, 'version' | 'createdAt'>): Promise<SecretRow> {
    return secrets.putSecret(this.db, row);
  }

  getSecret(scope: string, name: string): Promise<SecretRow | undefined> {
    return secrets.getSecret(this.db, scope, name);
  }

  listSecrets(name?: string): Promise<SecretRow[]> {
    return secrets.listSecrets(this.db, name);
  }

  deleteSecret(scope: string, name: string): Promise<boolean> {
    return secrets.deleteSecret(this.db, scope, name);
  }

  // ---- agent commands (queries in agent-commands.ts)

  createAgentCommand(cmd: NewAgentCommand, maxQueued: number, pickupAfter: string): Promise<AgentCommandRow | undefined> {
    return commands.createAgentCommand(this.db, cmd, maxQueued, pickupAfter);
  }

  hasQueuedAgentCommand(host: string, pickupAfter: string): Promise<boolean> {
    return commands.hasQueuedAgentCommand(this.db, host, pickupAfter);
  }

  hostsWithQueuedAgentCommands(pickupAfter: string): Promise<string[]> {
    return commands.hostsWithQueuedAgentCommands(this.db, pickupAfter);
  }

  takeAgentCommands(host: string, pickupAfter: string, at: string): Promise<AgentCommandRow[]> {
    return commands.takeAgentCommands(this.db, host, pickupAfter, at);
  }

  postAgentCommand(host: string, id: number, post: AgentCommandPost): Promise<AgentCommandPostOutcome> {
    return commands.postAgentCommand(this.db, host, id, post);
  }

  readAgentCommand(id: number, from?: number, markRead?: { at: string; olderThan: string }) {
    return commands.readAgentCommand(this.db, id, from, markRead);
  }

  cancelAgentCommand(id: number, at: string): Promise<boolean> {
    return commands.cancelAgentCommand(this.db, id, at);
  }

  sweepAgentCommands(sweep: AgentCommandSweep): Promise<{ id: number; host: string }[]> {
    return commands.sweepAgentCommands(this.db, sweep);
  }

  // ---- metrics (queries in metrics.ts)

  putMetrics(series: readonly metrics.MetricSeriesRow[], points: readonly metrics.MetricPointRow[]): Promise<void> {
    return metrics.putMetrics(this.db, this.kind, series, points);
  }
  readMetricPoints(after: number, missing: readonly number[], limit: number): Promise<metrics.StoredMetricPoint[]> {
    return metrics.readMetricPoints(this.db, this.kind, after, missing, limit);
  }
  lastMetricPointId(): Promise<number> {
    return metrics.lastMetricPointId(this.db);
  }
  lastMetricPoints(keys: readonly string[], n: number): Promise<metrics.StoredMetricPoint[]> {
    return metrics.lastMetricPoints(this.db, keys, n);
  }
  listMetricSeries(filter: metrics.MetricSeriesFilter = {}): Promise<metrics.MetricSeriesRow[]> {
    return metrics.listMetricSeries(this.db, filter);
  }
  metricPointsBetween(key: string, from: number, to: number): Promise<{ ts: number; v: number }[]> {
    return metrics.metricPointsBetween(this.db, key, from, to);
  }
  metricRollupsBetween(key: string, resolution: number, from: number, to: number): Promise<metrics.MetricRollupRow[]> {
    return metrics.metricRollupsBetween(this.db, key, resolution, from, to);
  }
  rollUpMetrics(resolution: number, source: 'raw' | number, from: number, to: number, seriesPerStatement?: number): Promise<number> {
    return metrics.rollUpMetrics(this.db, resolution, source, from, to, seriesPerStatement);
  }
  pruneMetrics(rawBefore: number, rollupsBefore: ReadonlyMap<number, number>): Promise<number> {
    return metrics.pruneMetrics(this.db, rawBefore, rollupsBefore);
  }
  // strategies, nodata rules, maintenance windows (issue 15): the queries are strategies.ts's
  #strategies: StrategyQueries | undefined;
  private get strategyRows(): StrategyQueries {
    this.#strategies ??= strategyQueries(this.db);
    return this.#strategies;
  }
  addStrategy: StrategyQueries['addStrategy'] = (row) => this.strategyRows.addStrategy(row);
  updateStrategy: StrategyQueries['updateStrategy'] = (id, patch) => this.strategyRows.updateStrategy(id, patch);
  deleteStrategy: StrategyQueries['deleteStrategy'] = (id) => this.strategyRows.deleteStrategy(id);
  getStrategy: StrategyQueries['getStrategy'] = (id) => this.strategyRows.getStrategy(id);
  listStrategies: StrategyQueries['listStrategies'] = (filter) => this.strategyRows.listStrategies(filter);
  addNodata: StrategyQueries['addNodata'] = (row) => this.strategyRows.addNodata(row);
  deleteNodata: StrategyQueries['deleteNodata'] = (id) => this.strategyRows.deleteNodata(id);
  listNodata: StrategyQueries['listNodata'] = () => this.strategyRows.listNodata();
  addMaintenance: StrategyQueries['addMaintenance'] = (row) => this.strategyRows.addMaintenance(row);
  deleteMaintenance: StrategyQueries['deleteMaintenance'] = (id) => this.strategyRows.deleteMaintenance(id);
  listMaintenance: StrategyQueries['listMaintenance'] = (filter) => this.strategyRows.listMaintenance(filter);
  // load-balancer pools, drain marks and reports (issue 16): the queries are balancers.ts's
  #balancers: BalancerQueries | undefined;
  private get balancerRows(): BalancerQueries {
    this.#balancers ??= balancerQueries(this.db);
    return this.#balancers;
  }
  putBalancer: BalancerQueries['putBalancer'] = (row) => this.balancerRows.putBalancer(row);
  getBalancer: BalancerQueries['getBalancer'] = (name) => this.balancerRows.getBalancer(name);
  listBalancers: BalancerQueries['listBalancers'] = () => this.balancerRows.listBalancers();
  deleteBalancer: BalancerQueries['deleteBalancer'] = (name) => this.balancerRows.deleteBalancer(name);
  putDrain: BalancerQueries['putDrain'] = (row) => this.balancerRows.putDrain(row);
  clearDrains: BalancerQueries['clearDrains'] = (which) => this.balancerRows.clearDrains(which);
  listDrains: BalancerQueries['listDrains'] = (now) => this.balancerRows.listDrains(now);
  sweepDrains: BalancerQueries['sweepDrains'] = (now) => this.balancerRows.sweepDrains(now);
  putBalancerReport: BalancerQueries['putBalancerReport'] = (name, host, report, at) =>
    this.balancerRows.putBalancerReport(name, host, report, at);
  listBalancerReports: BalancerQueries['listBalancerReports'] = () => this.balancerRows.listBalancerReports();

  async listAudit(filter: { limit?: number; action?: string; beforeId?: number } = {}): Promise<AuditRow[]> {
    let q = this.db.selectFrom('audit').selectAll();
    if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
    if (filter.action !== undefined) q = q.where('action', '=', filter.action);
    q = q.orderBy('id', 'desc');
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return (await q.execute()).map(m.auditFromDb);
  }
}

/**
 * A transaction that the store's own multi-statement writes (which open a transaction of their
 * own) can join: kysely refuses `transaction()` on a transaction, so inside one it runs inline.
 */
function joinable(trx: Transaction<Database>): Kysely<Database> {
  const inline = { execute: <T>(fn: (t: Kysely<Database>) => Promise<T>): Promise<T> => fn(proxy) };
  const proxy: Kysely<Database> = new Proxy(trx, {
    get(target, prop, receiver) {
      if (prop === 'transaction') return () => inline;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return proxy;
}

/**
 * Whether `err` is the database refusing a second running deployment of one tag: the unique
 * index `deployments_one_running_per_tag` (PostgreSQL: 23505 naming it; better-sqlite3:
 * SQLITE_CONSTRAINT_UNIQUE on `deployments.tag`, its only unique column besides the id).
 */
function isDeployLockViolation(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown } | null;
  if (e?.code === '23505') return e.constraint === 'deployments_one_running_per_tag';
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof e.message === 'string' && e.message.includes('deployments.tag');
}
