/**
 * Versioned schema migrations, kept in code (no migration files to ship or find at run time).
 *
 * To change the schema, add the next entry (`'0002_what_it_does'`) at the end of `MIGRATIONS`
 * and update `schema.ts`; never edit a migration that has shipped. kysely runs them in name
 * order, records each in `kysely_migration`, and on PostgreSQL takes an advisory lock so that
 * several servers opening one database at once migrate it once. Each migration runs in a
 * transaction on both backends (on SQLite `open.ts` opens it), so a migration must not open
 * one itself.
 */
import { packageBlobsMigration } from './package-blobs.js';
import { hostReportsMigration } from './host-reports.js';
import { agentCommandsMigration } from './agent-commands.js';
import { metricsMigration } from './metrics.js';
import { seriesIdsMigration } from './series-ids.js';
import { strategiesMigration } from './strategies.js';
import { namingMigration } from './naming.js';
import { placementsMigration } from './placements.js';
import { replicasMigration } from './replicas.js';
import { alarmsMigration } from './alarms.js';
import { balancersMigration, drainPidsMigration, drainProcessMigration, drainReplicasMigration } from './balancers.js';
import { networksMigration } from './networks.js';
import { capacityMigration } from './schedule.js';
import { deploymentHostsMigration } from './deployment-hosts.js';
import { scheduleLeaderMigration } from './schedule-leader.js';
import { stagedPackagesMigration } from './staged.js';
import { desiredManifestsMigration } from './desired-manifests.js';
import { sql, type ColumnDefinitionBuilder, type Expression, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** The two backends; the schema differs between them only in identity columns and collation. */
export type Backend = 'sqlite' | 'postgres';

type MigrationFactory = (backend: Backend) => Migration;

/** An auto-numbered primary key: SQLite's rowid alias, or a PostgreSQL identity column. */
function identity(backend: Backend) {
  return (c: ColumnDefinitionBuilder) =>
    backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();
}

/**
 * Text that compares byte by byte on both backends. SQLite's default (BINARY) already does;
 * PostgreSQL's default follows the database's locale (en_US ignores punctuation), which would
 * sort tags differently from SQLite and keep `LIKE 'prefix%'` from using an index.
 */
function textType(backend: Backend): 'text' | Expression<unknown> {
  return backend === 'sqlite' ? 'text' : sql`text collate "C"`;
}

const initial: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const id = identity(backend);
    const text = textType(backend);

    await db.schema
      .createTable('tokens')
      .addColumn('hash', text, (c) => c.primaryKey())
      .addColumn('kind', text, (c) => c.notNull())
      .addColumn('name', text, (c) => c.notNull())
      .addColumn('scope', text)
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tokens_kind_name').on('tokens').columns(['kind', 'name']).execute();

    await db.schema
      .createTable('meta')
      .addColumn('key', text, (c) => c.primaryKey())
      .addColumn('value', text, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('nodes')
      .addColumn('tag', text, (c) => c.primaryKey())
      .addColumn('level', text, (c) => c.notNull())
      .addColumn('parent', text)
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('hosts')
      .addColumn('name', text, (c) => c.primaryKey())
      .addColumn('labels', text, (c) => c.notNull())
      .addColumn('address', text)
      .addColumn('joined_at', text, (c) => c.notNull())
      .addColumn('last_heartbeat', text)
      .execute();

    await db.schema
      .createTable('clusters')
      .addColumn('tag', text, (c) => c.primaryKey())
      .addColumn('hosts', text, (c) => c.notNull())
      .addColumn('policy', text, (c) => c.notNull())
      .addColumn('conf', text)
      .addColumn('updated_at', text, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('releases')
      .addColumn('id', 'integer', id)
      .addColumn('job', text, (c) => c.notNull())
      .addColumn('version', text, (c) => c.notNull())
      .addColumn('commit', text, (c) => c.notNull())
      .addColumn('repo', text, (c) => c.notNull())
      .addColumn('sha256', text, (c) => c.notNull())
      // bigint: a package may be larger than 2 GiB
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('manifest', text, (c) => c.notNull())
      .addColumn('build_id', 'integer')
      .addColumn('created_at', text, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('releases_job_version').unique().on('releases').columns(['job', 'version']).execute();
    await db.schema.createIndex('releases_job_created').on('releases').columns(['job', 'created_at']).execute();
    await db.schema.createIndex('releases_created').on('releases').column('created_at').execute();

    await db.schema
      .createTable('builds')
      .addColumn('id', 'integer', id)
      .addColumn('repo', text, (c) => c.notNull())
      .addColumn('job', text, (c) => c.notNull())
      .addColumn('ref', text, (c) => c.notNull())
      .addColumn('status', text, (c) => c.notNull())
      .addColumn('version', text)
      .addColumn('initiator', text, (c) => c.notNull())
      .addColumn('started_at', text, (c) => c.notNull())
      .addColumn('ended_at', text)
      .addColumn('log', text, (c) => c.notNull().defaultTo(''))
      .addColumn('error', text)
      .execute();
    await db.schema.createIndex('builds_job_id').on('builds').columns(['job', 'id']).execute();
    await db.schema.createIndex('builds_status_id').on('builds').columns(['status', 'id']).execute();

    await db.schema
      .createTable('deployments')
      .addColumn('id', 'integer', id)
      .addColumn('tag', text, (c) => c.notNull())
      .addColumn('version', text, (c) => c.notNull())
      .addColumn('kind', text, (c) => c.notNull())
      .addColumn('initiator', text, (c) => c.notNull())
      .addColumn('started_at', text, (c) => c.notNull())
      .addColumn('ended_at', text)
      .addColumn('hosts', text, (c) => c.notNull())
      .addColumn('status', text, (c) => c.notNull())
      .addColumn('previous', text, (c) => c.notNull())
      .addColumn('host_results', text, (c) => c.notNull())
      .addColumn('conf', text, (c) => c.notNull())
      .addColumn('message', text)
      .addColumn('deadline', text, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('deployments_tag_id').on('deployments').columns(['tag', 'id']).execute();
    await db.schema.createIndex('deployments_status_id').on('deployments').columns(['status', 'id']).execute();

    await db.schema
      .createTable('desired')
      .addColumn('host', text, (c) => c.notNull())
      .addColumn('tag', text, (c) => c.notNull())
      .addColumn('version', text, (c) => c.notNull())
      .addColumn('sha256', text, (c) => c.notNull())
      .addColumn('manifest', text, (c) => c.notNull())
      .addColumn('deployment_id', 'integer')
      .addColumn('updated_at', text, (c) => c.notNull())
      // the primary key's index serves "by host"
      .addPrimaryKeyConstraint('desired_pk', ['host', 'tag'])
      .execute();
    await db.schema.createIndex('desired_tag_host').on('desired').columns(['tag', 'host']).execute();

    await db.schema
      .createTable('desired_generation')
      .addColumn('host', text, (c) => c.primaryKey())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .execute();

    // No primary key: the store does not decide what makes an instance unique (an agent
    // may report two instances of one process, e.g. old and new during a restart).
    await db.schema
      .createTable('instances')
      .addColumn('host', text, (c) => c.notNull())
      .addColumn('tag', text, (c) => c.notNull())
      .addColumn('process', text, (c) => c.notNull())
      .addColumn('version', text, (c) => c.notNull())
      .addColumn('state', text, (c) => c.notNull())
      .addColumn('pid', 'integer')
      .addColumn('port', 'integer')
      .addColumn('restarts', 'integer', (c) => c.notNull())
      .addColumn('started_at', text)
      .addColumn('error', text)
      .addColumn('updated_at', text, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('instances_host').on('instances').columns(['host', 'tag']).execute();
    await db.schema.createIndex('instances_tag').on('instances').columns(['tag', 'host']).execute();

    await db.schema
      .createTable('audit')
      .addColumn('id', 'integer', id)
      .addColumn('at', text, (c) => c.notNull())
      .addColumn('actor', text, (c) => c.notNull())
      .addColumn('action', text, (c) => c.notNull())
      .addColumn('target', text, (c) => c.notNull())
      .addColumn('detail', text, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_action_id').on('audit').columns(['action', 'id']).execute();
  },

  async down(db: Kysely<any>) {
    for (const table of [
      'audit',
      'instances',
      'desired_generation',
      'desired',
      'deployments',
      'builds',
      'releases',
      'clusters',
      'hosts',
      'nodes',
      'meta',
      'tokens',
    ]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
});

/**
 * Batched rollouts: a deployment keeps its plan and where it is (`progress`, JSON), and a
 * desired entry says whether it is a deploy or a rollback (`kind`), so that a release sent back
 * by a failed deploy runs with NOOPS_DEPLOY_KIND=rollback.
 */
const rollouts: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema
      .alterTable('deployments')
      .addColumn('progress', text, (c) => c.notNull().defaultTo('{}'))
      .execute();
    await db.schema.alterTable('desired').addColumn('kind', text).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('desired').dropColumn('kind').execute();
    await db.schema.alterTable('deployments').dropColumn('progress').execute();
  },
});

/** Runtime packages (node, jdk, ...): one row per name and version, immutable once added. */
const runtimes: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema
      .createTable('runtimes')
      .addColumn('name', text, (c) => c.notNull())
      .addColumn('version', text, (c) => c.notNull())
      .addColumn('sha256', text, (c) => c.notNull())
      // bigint: a JDK tarball can pass 2 GiB
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('platform', text, (c) => c.notNull())
      .addColumn('exports', text, (c) => c.notNull())
      .addColumn('root', text, (c) => c.notNull())
      .addColumn('created_by', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .addPrimaryKeyConstraint('runtimes_pk', ['name', 'version'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('runtimes').ifExists().execute();
  },
});

/**
 * Access (issue 11): roles, expiry and use counts on tokens; hosts belong to a node of the tree
 * and a join under a live host's name waits for an admin; grants (root processes) per subtree.
 */
const access: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema.alterTable('tokens').addColumn('role', text).execute();
    await db.schema.alterTable('tokens').addColumn('expires_at', text).execute();
    await db.schema.alterTable('tokens').addColumn('uses_left', 'integer').execute();
    await db.schema.alterTable('tokens').addColumn('created_by', text).execute();
    // Team tokens made before roles could deploy under their scope: they keep that right.
    await db.updateTable('tokens').set({ role: 'deployer' }).where('kind', '=', 'team').execute();
    await db.schema.alterTable('hosts').addColumn('scope', text).execute();
    await db.schema.alterTable('hosts').addColumn('pending_join', text).execute();
    await db.schema.alterTable('hosts').addColumn('join_approved_until', text).execute();
    await db.schema
      .createTable('grants')
      .addColumn('scope', text, (c) => c.notNull())
      .addColumn('grant', text, (c) => c.notNull())
      .addColumn('created_by', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .addPrimaryKeyConstraint('grants_pk', ['scope', 'grant'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('grants').ifExists().execute();
    for (const c of ['join_approved_until', 'pending_join', 'scope']) await db.schema.alterTable('hosts').dropColumn(c).execute();
    for (const c of ['created_by', 'uses_left', 'expires_at', 'role']) await db.schema.alterTable('tokens').dropColumn(c).execute();
  },
});

/**
 * Secrets (issue 11): values sealed with the server's key (DATA/secret.key), one row per scope
 * and name, never in clear.
 */
const secrets: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema
      .createTable('secrets')
      .addColumn('scope', text, (c) => c.notNull())
      .addColumn('name', text, (c) => c.notNull())
      .addColumn('sealed', text, (c) => c.notNull())
      .addColumn('key_id', text, (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('updated_by', text, (c) => c.notNull())
      .addColumn('updated_at', text, (c) => c.notNull())
      .addColumn('created_at', text, (c) => c.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['scope', 'name'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('secrets').ifExists().execute();
  },
});

/**
 * Limits (issue 12): a build's log is kept as appended pieces, not one row rewritten on every
 * append (three 40 MB logs made a 160 MB database and 78 s per build). Logs kept so far move over.
 */
const limits: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema
      .createTable('build_logs')
      .addColumn('build_id', 'integer', (c) => c.notNull())
      .addColumn('pos', 'integer', (c) => c.notNull())
      .addColumn('chars', 'integer', (c) => c.notNull())
      .addColumn('text', text, (c) => c.notNull())
      .addPrimaryKeyConstraint('build_logs_pk', ['build_id', 'pos'])
      .execute();
    await sql`insert into build_logs (build_id, pos, chars, text) select id, 0, length(log), log from builds where log <> ''`.execute(db);
    await db.updateTable('builds').set({ log: '' }).where('log', '<>', '').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('build_logs').ifExists().execute();
  },
});

/**
 * Signed releases (issue 12, docs/trust.md#signed-releases): each release's Ed25519 signature
 * over its job, version, sha256 and manifest, and the id of the key that made it. Null for a
 * release not signed yet (the first server start with signing signs those).
 */
const signatures: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema.alterTable('releases').addColumn('signature', text).execute();
    await db.schema.alterTable('releases').addColumn('signature_key', text).execute();
  },
  async down(db: Kysely<any>) {
    for (const c of ['signature_key', 'signature']) await db.schema.alterTable('releases').dropColumn(c).execute();
  },
});

/**
 * The cluster lock's question, "is a deployment running on this cluster", answered from an index
 * of the running deployments alone (`findRunningDeployment`): the (tag, id) index walks every
 * deployment the cluster ever had when none is running. Not unique yet: issue 14 moves the lock
 * itself into the database.
 */
const rolloutLock: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('deployments_running_tag')
      .on('deployments')
      .column('tag')
      .where(sql.ref('status'), '=', 'running')
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('deployments_running_tag').ifExists().execute();
  },
});

/**
 * The deploy lock in the database: at most one running deployment per cluster, whichever server
 * (or request) writes it. A UNIQUE partial index on the running deployments' tag replaces
 * 0010's plain one (it answers `findRunningDeployment` as well), so the second of two inserts
 * that both saw "nothing running" fails with a unique violation (`createDeployment` turns it
 * into NOOPS_E_DEPLOY_LOCKED).
 *
 * A database that already holds several running deployments of one cluster (one server could
 * not write them; two servers before this migration could) keeps the oldest running: it holds
 * the lock, as `findRunningDeployment` answered before 0010 was unique. Each younger one ends
 * `failed`, with a message naming the one kept, and is not resumed; its hosts keep what it wrote
 * until the next deploy.
 */
const deployLock: MigrationFactory = () => ({
  async up(db: Kysely<any>) {
    const endedAt = new Date().toISOString();
    const crowded = await db
      .selectFrom('deployments')
      .select(['tag', (eb) => eb.fn.min('id').as('keep')])
      .where('status', '=', 'running')
      .groupBy('tag')
      .having((eb) => eb.fn.countAll(), '>', 1)
      .execute();
    for (const { tag, keep } of crowded) {
      await db
        .updateTable('deployments')
        .set({
          status: 'failed',
          ended_at: endedAt,
          message: `ended by migration 0011_deploy_lock: deployment #${Number(keep)} was already running on ${tag} (one running deployment per cluster)`,
        })
        .where('tag', '=', tag)
        .where('status', '=', 'running')
        .where('id', '<>', keep)
        .execute();
    }
    await db.schema.dropIndex('deployments_running_tag').ifExists().execute();
    await db.schema
      .createIndex('deployments_one_running_per_tag')
      .on('deployments')
      .column('tag')
      .unique()
      .where(sql.ref('status'), '=', 'running')
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('deployments_one_running_per_tag').ifExists().execute();
    await db.schema
      .createIndex('deployments_running_tag')
      .on('deployments')
      .column('tag')
      .where(sql.ref('status'), '=', 'running')
      .execute();
  },
});

/**
 * Several servers on one database (issue 14): the servers alive (`noops servers`) and one lease
 * per control loop (store/leases.ts). The expiry is milliseconds by the database's clock.
 */
const leases: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    const text = textType(backend);
    await db.schema
      .createTable('servers')
      .addColumn('id', text, (c) => c.primaryKey())
      .addColumn('address', text, (c) => c.notNull())
      .addColumn('started_at', text, (c) => c.notNull())
      .addColumn('last_seen', text, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('leases')
      .addColumn('loop', text, (c) => c.primaryKey())
      .addColumn('holder', text, (c) => c.notNull())
      .addColumn('epoch', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('leases').execute();
    await db.schema.dropTable('servers').execute();
  },
});

/**
 * `hosts.peer_url`: the URL an agent said at join that its peers reach it at (`--peer-url`); the
 * tracker sends peers to a URL of another address than the one it sees the agent at only when it
 * is this one (or the server trusts stated URLs), docs/packages-p2p.md.
 */
const peerUrlMigration: MigrationFactory = (backend) => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('hosts').addColumn('peer_url', textType(backend)).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('hosts').dropColumn('peer_url').execute();
  },
});

/** Every migration, oldest first. Names sort in the order they must run. */
const MIGRATIONS: Record<string, MigrationFactory> = {
  '0001_initial': initial,
  '0002_rollouts': rollouts,
  '0003_runtimes': runtimes,
  '0004_access': access,
  '0005_secrets': secrets,
  '0007_limits': limits,
  '0009_signatures': signatures,
  '0010_rollout_lock': rolloutLock,
  '0011_deploy_lock': deployLock,
  '0012_leases': leases,
  '0013_agent_commands': agentCommandsMigration,
  '0014_host_reports': hostReportsMigration,
  '0015_package_blobs': packageBlobsMigration,
  '0016_metrics': metricsMigration,
  '0017_strategies': strategiesMigration,
  '0018_alarms': alarmsMigration,
  '0019_naming': namingMigration,
  '0020_balancers': balancersMigration,
  '0021_networks': networksMigration,
  '0022_capacity': capacityMigration,
  '0023_placements': placementsMigration,
  '0024_series_ids': seriesIdsMigration,
  '0025_schedule_leader': scheduleLeaderMigration,
  '0026_deployment_hosts': deploymentHostsMigration,
  '0028_replicas': replicasMigration,
  '0029_drain_replicas': drainReplicasMigration,
  '0030_drain_pids': drainPidsMigration,
  '0032_peer_url': peerUrlMigration,
  '0033_drain_process': drainProcessMigration,
  '0034_staged_packages': stagedPackagesMigration,
  '0035_desired_manifests': desiredManifestsMigration,
};

/**
 * The migrations for one backend, as a kysely provider.
 *
 * @example
 *   new Migrator({ db, provider: migrationProvider('sqlite') }).migrateToLatest();
 */
export function migrationProvider(backend: Backend): MigrationProvider {
  return {
    async getMigrations() {
      return Object.fromEntries(Object.entries(MIGRATIONS).map(([name, make]) => [name, make(backend)]));
    },
  };
}

/** The names of every migration, oldest first (for tests and `noops doctor`-style checks). */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS);
