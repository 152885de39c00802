/**
 * Desired state (what each host should run, with a per-host generation) and instances (what
 * each host reports it runs).
 */
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import { chunks, inChunks, RowsStatement } from './batch.js';
import { keepManifests, ManifestGoneError, manifestsByHash } from './desired-manifests.js';
import * as m from './rows.js';
import type { Database, DesiredTable, InstancesTable } from './schema.js';
import type { DesiredHead, DesiredRow, InstanceRow } from './types.js';

/**
 * Sets (row) or clears (null) one entry of a host's desired state and returns the host's new
 * generation. Clearing an entry that is not there still bumps the generation.
 */
export async function setDesired(db: Kysely<Database>, host: string, tag: string, row: DesiredRow | null): Promise<number> {
  if (row !== null && (row.host !== host || row.tag !== tag)) {
    throw new Error(`setDesired(${host}, ${tag}) was given a row for ${row.host}, ${row.tag}`);
  }
  return db.transaction().execute(async (trx) => {
    // Bump first: the generation row's lock then serializes every change to this host's
    // desired state, so concurrent calls (even on several servers) get distinct generations.
    const { generation } = await trx
      .insertInto('desired_generation')
      .values({ host, generation: 1 })
      .onConflict((oc) => oc.column('host').doUpdateSet({ generation: sql<number>`desired_generation.generation + 1` }))
      .returning('generation')
      .executeTakeFirstOrThrow();
    if (row === null) {
      await trx.deleteFrom('desired').where('host', '=', host).where('tag', '=', tag).execute();
    } else {
      await upsertDesired(trx, [row]);
    }
    return Number(generation);
  });
}

/** The desired table's columns, in the order `upsertDesiredRows` gives each row's values. */
const DESIRED_COLUMNS = [
  'host',
  'tag',
  'version',
  'sha256',
  'manifest',
  'manifest_hash',
  'deployment_id',
  'updated_at',
  'kind',
  'driver',
  'replicas',
] as const satisfies readonly (keyof DesiredTable)[];

/** Writes desired rows, replacing each host's entry for the same tag (built once per row count: batch.ts). */
const upsertDesiredRows = new RowsStatement<DesiredRow>(
  (db, rows) =>
    db
      .insertInto('desired')
      .values(rows.map((values) => Object.fromEntries(DESIRED_COLUMNS.map((c, i) => [c, values[i]])) as Insertable<DesiredTable>))
      .onConflict((oc) =>
        oc.columns(['host', 'tag']).doUpdateSet((eb) => ({
          version: eb.ref('excluded.version'),
          sha256: eb.ref('excluded.sha256'),
          manifest: eb.ref('excluded.manifest'),
          manifest_hash: eb.ref('excluded.manifest_hash'),
          deployment_id: eb.ref('excluded.deployment_id'),
          updated_at: eb.ref('excluded.updated_at'),
          kind: eb.ref('excluded.kind'),
          driver: eb.ref('excluded.driver'),
          replicas: eb.ref('excluded.replicas'),
        })),
      )
      .compile(),
  (row) => {
    const db = m.desiredToDb(row);
    return DESIRED_COLUMNS.map((c) => db[c]);
  },
);

/** Writes desired rows, their manifests kept once each (desired-manifests.ts) in the same transaction, first. */
async function upsertDesired(trx: Transaction<Database>, rows: readonly DesiredRow[]): Promise<void> {
  const manifests = new Map<string, string>();
  let seen: object | undefined;
  for (const r of rows) {
    if (r.manifest === seen) continue; // a cluster's rows share one object
    seen = r.manifest;
    const ref = m.manifestRef(r.manifest);
    manifests.set(ref.hash, ref.text);
  }
  await keepManifests(trx, manifests, new Date().toISOString());
  for (const batch of chunks(rows)) await upsertDesiredRows.run(trx, batch);
}

/** How many times a read is made again when a manifest it found named was pruned meanwhile. */
const READ_ATTEMPTS = 3;

/**
 * Runs a read of desired rows again when the manifest a row names was pruned between its two
 * statements (the row was replaced meanwhile: read again, it names the new one).
 */
async function readAgainIfGone<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ManifestGoneError) || attempt >= READ_ATTEMPTS) throw err;
    }
  }
}

/** Raises each host's generation by one (a new host's is 1), built once per row count. */
export const bumpGenerations = new RowsStatement<string>(
  (db, rows) =>
    db
      .insertInto('desired_generation')
      .values(rows.map(([host, generation]) => ({ host: host as string, generation: generation as number })))
      .onConflict((oc) => oc.column('host').doUpdateSet({ generation: sql<number>`desired_generation.generation + 1` }))
      .compile(),
  (host) => [host, 1],
);

/**
 * Sets (row) or clears (null) one tag's entry on many hosts in one transaction, bumping each
 * host's generation once: the rollout's way to change a whole cluster (or a batch of it) in a
 * few multi-row statements instead of a transaction per host. Hosts are written in name order,
 * so two writers on overlapping hosts lock rows in the same order.
 */
export async function setDesiredMany(
  db: Kysely<Database>,
  tag: string,
  changes: readonly { host: string; row: DesiredRow | null }[],
): Promise<void> {
  const stray = changes.find((c) => c.row !== null && (c.row.host !== c.host || c.row.tag !== tag));
  if (stray !== undefined)
    throw new Error(`setDesiredMany(${tag}) was given a row for ${stray.row!.host}, ${stray.row!.tag} as host ${stray.host}`);
  const latest = new Map(changes.map((c) => [c.host, c.row]));
  if (latest.size === 0) return;
  const hosts = [...latest.keys()].sort();
  await db.transaction().execute(async (trx) => {
    // Generations first, as in setDesired: the row locks serialize concurrent changes per host.
    for (const batch of chunks(hosts)) {
      await bumpGenerations.run(trx, batch);
    }
    const cleared = hosts.filter((h) => latest.get(h) === null);
    for (const batch of chunks(cleared)) {
      await trx.deleteFrom('desired').where('tag', '=', tag).where('host', 'in', batch).execute();
    }
    const set = hosts.map((h) => latest.get(h)).filter((r): r is DesiredRow => r !== null && r !== undefined);
    await upsertDesired(trx, set);
  });
}

/** A desired entry's columns, as getDesired and getDesiredMany read them beside the generation. */
const ENTRY_COLUMNS = [
  'd.host',
  'd.tag',
  'd.version',
  'd.sha256',
  'd.manifest',
  'd.manifest_hash',
  'd.deployment_id',
  'd.updated_at',
  'd.kind',
  'd.driver',
  'd.replicas',
] as const;

/** An entry as the generation's left join reads it (its columns null where the host has none: not passed here). */
interface JoinedEntry {
  host: string | null;
  tag: string | null;
  version: string | null;
  sha256: string | null;
  manifest: string | null;
  manifest_hash: string | null;
  deployment_id: number | null;
  updated_at: string | null;
  kind: string | null;
  driver: string | null;
  replicas: number | null;
}

/** A joined row's entry, its manifest from `byHash` (or its own, written before 0035). */
function entryOf(r: JoinedEntry, byHash: ReadonlyMap<string, Record<string, unknown>>): DesiredRow {
  return m.desiredFromDb(
    {
      host: r.host!,
      tag: r.tag!,
      version: r.version!,
      sha256: r.sha256!,
      manifest: r.manifest!,
      manifest_hash: r.manifest_hash,
      deployment_id: r.deployment_id,
      updated_at: r.updated_at!,
      kind: r.kind,
      driver: r.driver,
      replicas: r.replicas,
    },
    byHash,
  );
}

/** The manifest hashes rows name (each once, in order; rows of a cluster name the same one one after another). */
function hashesOf(rows: readonly { manifest_hash: string | null }[]): Set<string> {
  const out = new Set<string>();
  let last: string | null = null;
  for (const r of rows) {
    if (r.manifest_hash === null || r.manifest_hash === last) continue;
    last = r.manifest_hash;
    out.add(last);
  }
  return out;
}

/** A host's desired state, sorted by tag, and its generation (0 and [] for an unknown host). */
export function getDesired(db: Kysely<Database>, host: string): Promise<{ generation: number; entries: DesiredRow[] }> {
  return readAgainIfGone(() => readDesired(db, host));
}

async function readDesired(db: Kysely<Database>, host: string): Promise<{ generation: number; entries: DesiredRow[] }> {
  // One statement, so one snapshot: the generation and the entries always belong together.
  // (Every change bumps the generation row first, so a host with entries has one.)
  const rows = await db
    .selectFrom('desired_generation as g')
    .leftJoin('desired as d', 'd.host', 'g.host')
    .select(['g.generation', ...ENTRY_COLUMNS])
    .where('g.host', '=', host)
    .orderBy('d.tag')
    .execute();
  if (rows.length === 0) return { generation: 0, entries: [] };
  const byHash = await manifestsByHash(db, hashesOf(rows));
  const entries = rows.filter((r) => r.tag !== null).map((r) => entryOf(r, byHash));
  return { generation: Number(rows[0]!.generation), entries };
}

/** Hosts' generations and entries (getDesiredMany), built once per count of hosts. */
const selectDesired = new RowsStatement(
  (db, hosts) =>
    db
      .selectFrom('desired_generation as g')
      .leftJoin('desired as d', 'd.host', 'g.host')
      .select(['g.host as gen_host', 'g.generation', ...ENTRY_COLUMNS])
      .where(
        'g.host',
        'in',
        hosts.map(([h]) => h as string),
      )
      .orderBy('g.host')
      .orderBy('d.tag')
      .compile(),
  (host: string) => [host],
);

/**
 * Many hosts' desired states at once (`getDesired` for each, in a few statements): a deploy wakes
 * thousands of parked polls together, and one query per host was most of their cost. Every host
 * asked for is in the answer (generation 0 and no entries for an unknown one).
 */
export function getDesiredMany(
  db: Kysely<Database>,
  hosts: readonly string[],
): Promise<Map<string, { generation: number; entries: DesiredRow[] }>> {
  return readAgainIfGone(() => readDesiredMany(db, hosts));
}

async function readDesiredMany(
  db: Kysely<Database>,
  hosts: readonly string[],
): Promise<Map<string, { generation: number; entries: DesiredRow[] }>> {
  const out = new Map<string, { generation: number; entries: DesiredRow[] }>();
  for (const h of hosts) out.set(h, { generation: 0, entries: [] });
  for (const batch of inChunks([...out.keys()])) {
    // one statement per batch, so one snapshot: each host's generation and entries belong together
    const rows = await selectDesired.run(db, batch);
    const byHash = await manifestsByHash(db, hashesOf(rows));
    for (const r of rows) {
      const state = out.get(r.gen_host)!;
      state.generation = Number(r.generation);
      if (r.tag === null) continue;
      state.entries.push(entryOf(r, byHash));
    }
  }
  return out;
}

/** A host's desired-state generation alone (0 for an unknown host): the cheap "anything new?". */
export async function desiredGeneration(db: Kysely<Database>, host: string): Promise<number> {
  const gen = await db.selectFrom('desired_generation').select('generation').where('host', '=', host).executeTakeFirst();
  return gen === undefined ? 0 : Number(gen.generation);
}

/** Many hosts' generations in one statement per BATCH_ROWS hosts (0 for an unknown host is left out). */
export async function desiredGenerations(db: Kysely<Database>, hosts: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const batch of inChunks(hosts)) {
    const rows = await db.selectFrom('desired_generation').select(['host', 'generation']).where('host', 'in', batch).execute();
    for (const r of rows) out.set(r.host, Number(r.generation));
  }
  return out;
}

/**
 * `desiredGeneration` for every host asked in one turn of the event loop, in one statement: each
 * agent's report and long poll asks for its host's generation (4,000 times a second with 10,000
 * agents deploying), and a statement each (compiled, prepared, run: about 75 µs) was the largest
 * single cost of the report route. A read asked after a write completed is made after it, so a
 * caller still reads its own writes; a read made a little later can only see a newer generation.
 *
 * @example
 *   const gens = new GenerationBatch((hosts) => desiredGenerations(db, hosts));
 *   await Promise.all([gens.get('h1'), gens.get('h2')]); // one statement
 */
export class GenerationBatch {
  #waiting = new Map<string, { resolve: (g: number) => void; reject: (e: unknown) => void }[]>();
  #scheduled = false;

  constructor(private readonly read: (hosts: string[]) => Promise<Map<string, number>>) {}

  get(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const waiting = this.#waiting.get(host);
      if (waiting) waiting.push({ resolve, reject });
      else this.#waiting.set(host, [{ resolve, reject }]);
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#waiting;
    this.#waiting = new Map();
    this.#scheduled = false;
    const hosts = [...batch.keys()];
    try {
      const got = await this.read(hosts);
      for (const h of hosts) for (const w of batch.get(h)!) w.resolve(got.get(h) ?? 0);
    } catch (err) {
      for (const h of hosts) for (const w of batch.get(h)!) w.reject(err);
    }
  }
}

/**
 * Raises a host's generation to at least `atLeast`, never lowering it (`noops host adopt`: the
 * server's answer must not be older than what the host's agent applied); answers the generation.
 */
export async function raiseDesiredGeneration(db: Kysely<Database>, host: string, atLeast: number): Promise<number> {
  const { generation } = await db
    .insertInto('desired_generation')
    .values({ host, generation: atLeast })
    .onConflict((oc) =>
      oc.column('host').doUpdateSet({
        // cast: PostgreSQL cannot type a bare parameter in a CASE; SQLite has no greatest()
        generation: sql<number>`case when desired_generation.generation < cast(${atLeast} as integer) then cast(${atLeast} as integer) else desired_generation.generation end`,
      }),
    )
    .returning('generation')
    .executeTakeFirstOrThrow();
  return Number(generation);
}

/** Desired rows of one tag (or all), sorted by tag, then host. */
export function listDesired(db: Kysely<Database>, tag?: string): Promise<DesiredRow[]> {
  return readAgainIfGone(() => readListDesired(db, tag));
}

async function readListDesired(db: Kysely<Database>, tag?: string): Promise<DesiredRow[]> {
  let q = db.selectFrom('desired').selectAll();
  if (tag !== undefined) q = q.where('tag', '=', tag);
  const rows = await q.orderBy('tag').orderBy('host').execute();
  const byHash = await manifestsByHash(db, hashesOf(rows));
  return rows.map((r) => m.desiredFromDb(r, byHash));
}

/** A cluster's desired entries without their manifests, by host (`Store.listDesiredHeads`). */
export async function listDesiredHeads(db: Kysely<Database>, tag: string): Promise<DesiredHead[]> {
  const rows = await db
    .selectFrom('desired')
    .select(['host', 'tag', 'version', 'sha256', 'deployment_id', 'kind', 'driver', 'replicas'])
    .where('tag', '=', tag)
    .orderBy('host')
    .execute();
  return rows.map(m.desiredHeadFromDb);
}

/** Replaces every instance row of `host` in one transaction; every row must be of that host. */
export async function replaceInstances(db: Kysely<Database>, host: string, rows: readonly InstanceRow[]): Promise<void> {
  const stray = rows.find((r) => r.host !== host);
  if (stray !== undefined) throw new Error(`replaceInstances(${host}) was given a row of host ${stray.host}`);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('instances').where('host', '=', host).execute();
    for (const batch of chunks(rows)) await insertInstances.run(trx, batch);
  });
}

/**
 * Replaces the instance rows of many hosts in one transaction (a host given with no rows ends
 * with none): the server batches agents' reports into this, so a deploy that changes every
 * host's processes at once costs a few statements, not a transaction per host.
 */
export async function replaceInstancesMany(
  db: Kysely<Database>,
  byHost: readonly { host: string; rows: readonly InstanceRow[] }[],
): Promise<void> {
  for (const { host, rows } of byHost) {
    const stray = rows.find((r) => r.host !== host);
    if (stray !== undefined) throw new Error(`replaceInstancesMany was given a row of host ${stray.host} for host ${host}`);
  }
  if (byHost.length === 0) return;
  // Hosts in name order: two servers writing overlapping hosts lock rows in the same order.
  const sorted = [...byHost].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  await db.transaction().execute(async (trx) => {
    for (const batch of inChunks(sorted.map((h) => h.host))) {
      await trx.deleteFrom('instances').where('host', 'in', batch).execute();
    }
    for (const batch of chunks(sorted.flatMap((h) => h.rows))) await insertInstances.run(trx, batch);
  });
}

/** The instances table's columns, in the order `insertInstances` gives each row's values. */
const INSTANCE_COLUMNS = [
  'host',
  'tag',
  'process',
  'version',
  'state',
  'pid',
  'port',
  'restarts',
  'started_at',
  'error',
  'container',
  'address',
  'updated_at',
] as const satisfies readonly (keyof InstancesTable)[];

/** Instances' rows, inserted: built once per count of rows (batch.ts). */
const insertInstances = new RowsStatement(
  (db, rows) =>
    db
      .insertInto('instances')
      .values(rows.map((values) => Object.fromEntries(INSTANCE_COLUMNS.map((c, i) => [c, values[i]])) as Insertable<InstancesTable>))
      .compile(),
  (row: InstanceRow) => {
    const db = m.instanceToDb(row);
    return INSTANCE_COLUMNS.map((c) => db[c]);
  },
);

/** Instances, filtered by tag and/or host, sorted by host, tag, process. */
export async function listInstances(db: Kysely<Database>, filter: { tag?: string; host?: string }): Promise<InstanceRow[]> {
  let q = db.selectFrom('instances').selectAll();
  if (filter.tag !== undefined) q = q.where('tag', '=', filter.tag);
  if (filter.host !== undefined) q = q.where('host', '=', filter.host);
  const rows = await q.orderBy('host').orderBy('tag').orderBy('process').execute();
  return rows.map(m.instanceFromDb);
}
