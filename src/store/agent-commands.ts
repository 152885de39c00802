/**
 * Agent commands (`noops restart`, `noops logs`) and their output, for several servers on one
 * PostgreSQL (issue 14): a command queued through one server is taken by the agent polling
 * another, and its output, posted to that one, is read through a third. The queue's rules
 * (limits, expiry, cancelling) live in src/server/agent-commands*.ts; these are its queries.
 *
 * Output is kept as chunks, one per agent post, each knowing where it starts and ends in the
 * whole output (`pos`, `end`, in UTF-16 code units as JavaScript counts them), so a reader asks
 * "from offset N" and the oldest chunks are deleted once the unread tail passes a bound.
 *
 * Every write that ends a command is a conditional UPDATE (`WHERE status IN (...)`): two servers
 * expiring or cancelling the same command at once change it once.
 */
import { sql, type ColumnType, type Generated, type Kysely, type Migration } from 'kysely';
import type { Backend } from './migrations.js';
import type { Database } from './schema.js';

/** Where a command is: queued for its host's agent, running there, or ended (the last four). */
export type AgentCommandStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'expired';

/** The statuses a command can still leave. */
const OPEN: AgentCommandStatus[] = ['queued', 'running'];

/** An error as the agent or the server reports it. */
export interface AgentCommandError {
  code: string;
  message: string;
  hint: string;
}

/** A command as stored (its output apart, in chunks). Times are ISO strings. */
export interface AgentCommandRow {
  id: number;
  host: string;
  action: string;
  tag: string;
  process: string | null;
  lines: number;
  follow: boolean;
  initiator: string;
  createdAt: string;
  status: AgentCommandStatus;
  /** the length of the whole output so far (what the agent posted, dropped chunks included) */
  outputEnd: number;
  result: unknown;
  error: AgentCommandError | null;
  /** the last read by a person (a `logs -f` nobody reads any more is cancelled) */
  lastRead: string;
  /** the last post by the agent */
  touchedAt: string;
  endedAt: string | null;
}

/** What a new command holds; the store gives it its id (unique across servers) and status `queued`. */
export type NewAgentCommand = Pick<AgentCommandRow, 'host' | 'action' | 'tag' | 'process' | 'lines' | 'follow' | 'initiator' | 'createdAt'>;

/** A piece of a command's output: what one agent post added, from `pos` to `end`. */
export interface AgentCommandChunk {
  pos: number;
  end: number;
  text: string;
}

/** An agent's post: output to append, a result, and maybe the end. */
export interface AgentCommandPost {
  output: string;
  result?: unknown;
  end?: { status: 'done' | 'failed'; error: AgentCommandError | null };
  at: string;
  /** a following command whose last read is before this is cancelled instead (nobody reads it) */
  idleBefore: string;
  /** unread output kept per command: older chunks are deleted */
  maxOutput: number;
}

/**
 * What became of a post: `ok` (written), `missing` (no such command for this host), `ended`
 * (it had ended already), `idle` (it was cancelled now: a following command nobody reads).
 */
export type AgentCommandPostOutcome = 'ok' | 'missing' | 'ended' | 'idle';

/** Times a sweep compares with; every command it changed, to announce. */
export interface AgentCommandSweep {
  at: string;
  /** queued commands created before this expire (no agent took them) */
  pickupBefore: string;
  /** ended commands that ended before this are deleted with their output */
  retainBefore: string;
  /** open commands that neither the agent nor a reader touched since this are cancelled */
  orphanBefore: string;
}

/** The table of commands. */
export interface AgentCommandsTable {
  id: Generated<number>;
  host: string;
  action: string;
  tag: string;
  process: string | null;
  lines: number;
  /** 0 or 1 */
  follow: number;
  initiator: string;
  created_at: string;
  status: string;
  /** bigint: pg answers it as text */
  output_end: ColumnType<number | string, number, number>;
  /** JSON */
  result: string | null;
  /** JSON */
  error: string | null;
  last_read: string;
  touched_at: string;
  ended_at: string | null;
}

/** The table of output chunks. */
export interface AgentCommandOutputTable {
  command_id: number;
  pos: ColumnType<number | string, number, number>;
  end: ColumnType<number | string, number, number>;
  text: string;
}

/** Migration 0013_agent_commands: the two tables. */
export function agentCommandsMigration(backend: Backend): Migration {
  const text = backend === 'sqlite' ? 'text' : sql`text collate "C"`;
  return {
    async up(db) {
      await db.schema
        .createTable('agent_commands')
        .addColumn('id', 'integer', (c) =>
          backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
        )
        .addColumn('host', text, (c) => c.notNull())
        .addColumn('action', text, (c) => c.notNull())
        .addColumn('tag', text, (c) => c.notNull())
        .addColumn('process', text)
        .addColumn('lines', 'integer', (c) => c.notNull())
        .addColumn('follow', 'integer', (c) => c.notNull())
        .addColumn('initiator', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .addColumn('status', text, (c) => c.notNull())
        .addColumn('output_end', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('result', text)
        .addColumn('error', text)
        .addColumn('last_read', text, (c) => c.notNull())
        .addColumn('touched_at', text, (c) => c.notNull())
        .addColumn('ended_at', text)
        .execute();
      await db.schema.createIndex('agent_commands_host_status').on('agent_commands').columns(['host', 'status']).execute();
      await db.schema.createIndex('agent_commands_status').on('agent_commands').column('status').execute();
      await db.schema
        .createTable('agent_command_output')
        .addColumn('command_id', 'integer', (c) => c.notNull())
        .addColumn('pos', 'bigint', (c) => c.notNull())
        .addColumn('end', 'bigint', (c) => c.notNull())
        .addColumn('text', text, (c) => c.notNull())
        .addPrimaryKeyConstraint('agent_command_output_pk', ['command_id', 'pos'])
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('agent_command_output').ifExists().execute();
      await db.schema.dropTable('agent_commands').ifExists().execute();
    },
  };
}

type DbCommand = {
  [K in keyof AgentCommandsTable]: K extends 'id' ? number : K extends 'output_end' ? number | string : AgentCommandsTable[K];
};

function fromDb(r: DbCommand): AgentCommandRow {
  return {
    id: Number(r.id),
    host: r.host,
    action: r.action,
    tag: r.tag,
    process: r.process,
    lines: Number(r.lines),
    follow: Number(r.follow) === 1,
    initiator: r.initiator,
    createdAt: r.created_at,
    status: r.status as AgentCommandStatus,
    outputEnd: Number(r.output_end),
    result: r.result === null ? null : JSON.parse(r.result),
    error: r.error === null ? null : (JSON.parse(r.error) as AgentCommandError),
    lastRead: r.last_read,
    touchedAt: r.touched_at,
    endedAt: r.ended_at,
  };
}

/**
 * Inserts a queued command unless `maxQueued` already wait for its host (queued since
 * `pickupAfter`); answers it, or undefined when the host's queue is full. Two servers queueing
 * for one host at the very same moment may pass the bound by one each: it bounds a runaway
 * script, not a person.
 */
export async function createAgentCommand(
  db: Kysely<Database>,
  cmd: NewAgentCommand,
  maxQueued: number,
  pickupAfter: string,
): Promise<AgentCommandRow | undefined> {
  return db.transaction().execute(async (t) => {
    const queued = await t
      .selectFrom('agent_commands')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('host', '=', cmd.host)
      .where('status', '=', 'queued')
      .where('created_at', '>', pickupAfter)
      .executeTakeFirstOrThrow();
    if (Number(queued.n) >= maxQueued) return undefined;
    const row = await t
      .insertInto('agent_commands')
      .values({
        host: cmd.host,
        action: cmd.action,
        tag: cmd.tag,
        process: cmd.process,
        lines: cmd.lines,
        follow: cmd.follow ? 1 : 0,
        initiator: cmd.initiator,
        created_at: cmd.createdAt,
        status: 'queued',
        output_end: 0,
        result: null,
        error: null,
        last_read: cmd.createdAt,
        touched_at: cmd.createdAt,
        ended_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return fromDb(row);
  });
}

/** Whether a command queued since `pickupAfter` waits for `host`'s agent. */
export async function hasQueuedAgentCommand(db: Kysely<Database>, host: string, pickupAfter: string): Promise<boolean> {
  const r = await db
    .selectFrom('agent_commands')
    .select('id')
    .where('host', '=', host)
    .where('status', '=', 'queued')
    .where('created_at', '>', pickupAfter)
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}

/** The hosts with a command queued since `pickupAfter`, each once: a sweep's net under lost announcements. */
export async function hostsWithQueuedAgentCommands(db: Kysely<Database>, pickupAfter: string): Promise<string[]> {
  const rows = await db
    .selectFrom('agent_commands')
    .select('host')
    .distinct()
    .where('status', '=', 'queued')
    .where('created_at', '>', pickupAfter)
    .execute();
  return rows.map((r) => r.host);
}

/**
 * The commands queued for `host` since `pickupAfter`, now running: one UPDATE decides, so two
 * servers answering two polls of one agent hand each command out once.
 */
export async function takeAgentCommands(db: Kysely<Database>, host: string, pickupAfter: string, at: string): Promise<AgentCommandRow[]> {
  const rows = await db
    .updateTable('agent_commands')
    .set({ status: 'running', touched_at: at })
    .where('host', '=', host)
    .where('status', '=', 'queued')
    .where('created_at', '>', pickupAfter)
    .returningAll()
    .execute();
  return rows.map(fromDb).sort((a, b) => a.id - b.id);
}

/** Records an agent's post on its command `id` (see `AgentCommandPostOutcome`). */
export async function postAgentCommand(
  db: Kysely<Database>,
  host: string,
  id: number,
  post: AgentCommandPost,
): Promise<AgentCommandPostOutcome> {
  return db.transaction().execute(async (t) => {
    // One conditional UPDATE both checks and claims: it locks the row (PostgreSQL) and only
    // an open command still read (or not following) takes the post.
    const row = await t
      .updateTable('agent_commands')
      .set(() => ({
        output_end: sql<number>`output_end + ${post.output.length}`,
        touched_at: post.at,
        ...(post.result === undefined ? {} : { result: JSON.stringify(post.result) }),
        ...(post.end ? { status: post.end.status, error: post.end.error && JSON.stringify(post.end.error), ended_at: post.at } : {}),
      }))
      .where('id', '=', id)
      .where('host', '=', host)
      .where('status', 'in', OPEN)
      .where((eb) => eb.or([eb('follow', '=', 0), eb('last_read', '>=', post.idleBefore)]))
      .returning('output_end')
      .executeTakeFirst();
    if (row === undefined) {
      const cmd = await t.selectFrom('agent_commands').select(['host', 'status']).where('id', '=', id).executeTakeFirst();
      if (cmd === undefined || cmd.host !== host) return 'missing';
      if (!OPEN.includes(cmd.status as AgentCommandStatus)) return 'ended';
      const idle = await t
        .updateTable('agent_commands')
        .set({ status: 'cancelled', ended_at: post.at })
        .where('id', '=', id)
        .where('status', 'in', OPEN)
        .executeTakeFirst();
      return Number(idle.numUpdatedRows) > 0 ? 'idle' : 'ended';
    }
    const end = Number(row.output_end);
    if (post.output.length > 0) {
      await t
        .insertInto('agent_command_output')
        .values({ command_id: id, pos: end - post.output.length, end, text: post.output })
        .execute();
    }
    if (post.output.length > 0 && end > post.maxOutput) {
      // the unread tail is bounded: chunks wholly before it go (a reader slices the first one)
      await t
        .deleteFrom('agent_command_output')
        .where('command_id', '=', id)
        .where('end', '<=', end - post.maxOutput)
        .execute();
    }
    return 'ok';
  });
}

/**
 * A command, and its output chunks that end after `from` (none when `from` is undefined).
 * `markRead` records a person's read, written only when the last one is older than `olderThan`
 * (a reader polling many times a second writes once every few seconds).
 */
export async function readAgentCommand(
  db: Kysely<Database>,
  id: number,
  from?: number,
  markRead?: { at: string; olderThan: string },
): Promise<{ command: AgentCommandRow; chunks: AgentCommandChunk[] } | undefined> {
  if (markRead) {
    await db
      .updateTable('agent_commands')
      .set({ last_read: markRead.at })
      .where('id', '=', id)
      .where('last_read', '<', markRead.olderThan)
      .execute();
  }
  const row = await db.selectFrom('agent_commands').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) return undefined;
  const command = fromDb(row);
  if (from === undefined || from >= command.outputEnd) return { command, chunks: [] };
  const chunks = await db
    .selectFrom('agent_command_output')
    .select(['pos', 'end', 'text'])
    .where('command_id', '=', id)
    .where('end', '>', from)
    .where('end', '<=', command.outputEnd) // a post that committed after the row was read waits for the next read
    .orderBy('pos')
    .execute();
  return { command, chunks: chunks.map((c) => ({ pos: Number(c.pos), end: Number(c.end), text: c.text })) };
}

/** Cancels command `id` unless it ended; answers whether this call ended it. */
export async function cancelAgentCommand(db: Kysely<Database>, id: number, at: string): Promise<boolean> {
  const r = await db
    .updateTable('agent_commands')
    .set({ status: 'cancelled', ended_at: at })
    .where('id', '=', id)
    .where('status', 'in', OPEN)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Expires queued commands no agent took, cancels orphans (open, untouched by agent and reader),
 * and deletes commands ended long ago with their output. Answers the commands it ended, so that
 * their readers are told. Any server may run it, as often as it likes: each step is conditional.
 */
export async function sweepAgentCommands(db: Kysely<Database>, s: AgentCommandSweep): Promise<{ id: number; host: string }[]> {
  const expired = await db
    .updateTable('agent_commands')
    .set({ status: 'expired', ended_at: s.at })
    .where('status', '=', 'queued')
    .where('created_at', '<=', s.pickupBefore)
    .returning(['id', 'host'])
    .execute();
  const orphans = await db
    .updateTable('agent_commands')
    .set({ status: 'cancelled', ended_at: s.at })
    .where('status', '=', 'running')
    .where('touched_at', '<', s.orphanBefore)
    .where('last_read', '<', s.orphanBefore)
    .returning(['id', 'host'])
    .execute();
  const gone = db.selectFrom('agent_commands').select('id').where('ended_at', '<', s.retainBefore);
  await db.deleteFrom('agent_command_output').where('command_id', 'in', gone).execute();
  await db.deleteFrom('agent_commands').where('ended_at', '<', s.retainBefore).execute();
  return [...expired, ...orphans].map((r) => ({ id: Number(r.id), host: r.host }));
}
