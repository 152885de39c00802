/**
 * The command channel's routes: people queue `restart` and `logs` for a host and read the
 * output; agents get their commands in their desired-state long poll (GET /agent/desired?commands=1)
 * and post output and ends here. See ../agent-commands.ts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import { replicaOf } from '../../api/index.js';
import type * as T from '../../api/index.js';
import { PROCESS_NAME_RE } from '../../release/index.js';
import type { Principal, ServerContext } from '../context.js';
import { ENDED, commandNotFound } from '../agent-commands.js';
import { drainTimeoutOf } from '../../balance/index.js';
import { authorize, canSee } from '../auth.js';
import { isUnder } from '../../tree/index.js';
import { HostName, parseBody, parseQuery, TagInput } from './parse.js';

/** 25 s: a CLI's read of a command is answered within this even with no news, under proxy idle timeouts. */
export const READ_WAIT_MS = 25_000;
/** Lines of each log file printed first, at most (the agent caps them too). */
const MAX_LINES = 100_000;
/**
 * A restart done while its process runs new but not healthy yet keeps the drain mark until it is
 * healthy, this long at most (then cleared: the member follows its health, maint until healthy).
 */
export const HEALTHY_AFTER_END_MS = 10_000;

/** A process name, or one replica of it (`web@2`, docs/scheduler.md#replicas). */
const REPLICA_OR_PROCESS_RE = new RegExp(`${PROCESS_NAME_RE.source.slice(0, -1)}(?:@[1-9][0-9]{0,3})?$`);

const CommandBody = z
  .object({
    host: HostName,
    action: z.enum(['restart', 'logs']),
    tag: TagInput,
    process: z
      .string()
      .regex(REPLICA_OR_PROCESS_RE, 'a process name is lower-case letters, digits, "-" and "_", and a replica\'s ends in @N (web@2)')
      .optional(),
    lines: z.number().int().min(0).max(MAX_LINES).optional(),
    follow: z.boolean().optional(),
  })
  .strict();

const UpdateBody = z
  .object({
    output: z.string().optional(),
    done: z.boolean().optional(),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string(), hint: z.string() }).strict().optional(),
  })
  .strict();

export async function commandRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.post('/commands', { config: { access: 'viewer' } }, async (req, reply): Promise<T.CommandView> => {
    const body = parseBody(CommandBody, req.body, 'command');
    const tag = await ctx.tags.resolveAny(body.tag);
    // Reading logs is a read; restarting is a change.
    authorize(req.principal, tag, body.action === 'logs' ? 'viewer' : 'deployer');
    if (!(await ctx.store.getHost(body.host))) throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `no host named ${body.host}`);
    // A restart stops the instances: drained first from every pool that holds them (docs/balancers.md),
    // taken back when the command ends. A balancer that does not follow refuses the restart (NOOPS_E_DRAIN_FAILED).
    const mark =
      body.action === 'restart'
        ? (
            await ctx.balancers.drain({
              host: body.host,
              tag,
              version: null,
              running: true, // the processes running now: the new one joins at its first healthy report
              ...(body.process !== undefined && { process: body.process }), // `--process web`: the other processes keep their traffic
              timeoutMs: await drainTimeoutOf(ctx.store, body.host, tag),
              reason: `restart by ${req.principal.name}`,
            })
          ).mark
        : undefined;
    const view = await (async () =>
      ctx.commands.create({
        host: body.host,
        action: body.action,
        tag,
        process: body.process ?? null,
        lines: body.lines ?? 10,
        follow: body.follow ?? false,
        initiator: req.principal.name,
      }))().catch(async (err: unknown) => {
      if (mark) await ctx.balancers.clear(body.host, tag, undefined, body.process); // not queued: the instances take traffic again
      throw err;
    });
    if (mark) {
      const restarted = { host: body.host, tag, process: body.process ?? null, pids: pidsOf(ctx, body.host, tag, body.process ?? null) };
      void undrainWhenEnded(ctx, view.id, restarted, Date.parse(mark.until));
    }
    if (body.action === 'restart') {
      await ctx.store.audit({
        at: view.createdAt,
        actor: req.principal.name,
        action: 'restart',
        target: tag,
        detail: { host: body.host, process: body.process ?? null },
      });
    }
    reply.status(202);
    return view;
  });

  api.get('/commands/:id', { config: { access: 'viewer' } }, async (req): Promise<T.CommandView> => {
    const id = idOf(req.params);
    const q = parseQuery(z.object({ offset: z.string().optional(), waitMs: z.string().optional() }).strict(), req.query, 'command');
    await visibleCommand(ctx, req.principal, id);
    const offset = Number(q.offset ?? 0);
    const waitMs = Math.min(Number(q.waitMs ?? 0), READ_WAIT_MS);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isFinite(waitMs) || waitMs < 0) {
      throw new NoopsError('NOOPS_E_INPUT', 'offset and waitMs must be whole numbers >= 0');
    }
    const gone = new AbortController();
    req.raw.once('close', () => gone.abort());
    return ctx.commands.read(id, offset, waitMs, gone.signal);
  });

  api.delete('/commands/:id', { config: { access: 'viewer' } }, async (req): Promise<T.CommandView> => {
    const id = idOf(req.params);
    await visibleCommand(ctx, req.principal, id);
    return ctx.commands.cancel(id);
  });

  api.post('/agent/commands/:id', { config: { access: 'agent' } }, async (req): Promise<T.CommandUpdateAnswer> => {
    const body = parseBody(UpdateBody, req.body, 'command update');
    return ctx.commands.update(req.principal.name, idOf(req.params), body);
  });
}

/** What a restart stops: the processes under `tag` (one of them with `process`) on `host`, and their pids before it. */
interface Restarted {
  host: string;
  tag: string;
  process: string | null;
  pids: Set<number>;
}

/** The pids of the processes a restart stops, from the host's last report. */
function pidsOf(ctx: ServerContext, host: string, tag: string, process: string | null): Set<number> {
  const pids = new Set<number>();
  for (const p of ctx.reports.lastReport(host)?.processes ?? [])
    if (p.pid !== null && isUnder(p.tag, tag) && (process === null || p.process === process)) pids.add(p.pid);
  return pids;
}

/** The restarted processes as the host last reported them. */
function nowOf(ctx: ServerContext, r: Restarted): T.ProcessReport[] {
  return (ctx.reports.lastReport(r.host)?.processes ?? []).filter(
    (p) => isUnder(p.tag, r.tag) && (r.process === null || replicaOf(p.process).process === r.process),
  );
}

/**
 * Whether every process the restart stopped runs again, new (no pid of before), up and healthy by
 * naming's rule: then its pools may take it back at once, without waiting for the command's end
 * (the agent answers a restart once the process passed its start grace, often well after its
 * health check: bench/balancers measured 300-500 ms in the pool too late).
 */
function backHealthy(ctx: ServerContext, r: Restarted): boolean {
  if (r.pids.size === 0) return false; // nothing ran before: wait for the command's end
  const now = nowOf(ctx, r);
  return now.length > 0 && now.every((p) => isNew(r, p) && p.state === 'up' && (p.health === undefined || p.health === 'healthy'));
}

/** Whether some restarted process already runs new (a pid not of before) but is not healthy yet. */
function newNotHealthy(ctx: ServerContext, r: Restarted): boolean {
  return r.pids.size > 0 && nowOf(ctx, r).some((p) => isNew(r, p)) && !backHealthy(ctx, r);
}

const isNew = (r: Restarted, p: T.ProcessReport): boolean => p.pid !== null && !r.pids.has(p.pid);

/**
 * Clears a restart's drain mark as soon as the host reports every restarted process new and
 * healthy, or once its command ended (done, failed, cancelled, expired, or gone); past the
 * mark's `until` there is nothing left to clear (it counts for nothing). A command done while a
 * restarted process runs new but not healthy yet (within its start grace, or its first checks
 * failing) keeps the mark until that process is healthy, for HEALTHY_AFTER_END_MS at most: its
 * pools then change once, drain to ready, at the report that shows it healthy. Cleared at the
 * end, they changed twice (drain to maint, then ready), and the balancer host's agent, busy
 * applying the first change, applied the join one apply late (bench/balancers: restart joins of
 * 190-740 ms, against 20-160 ms in deploys, where the rollout clears the mark on the healthy report).
 */
async function undrainWhenEnded(ctx: ServerContext, id: number, r: Restarted, until: number): Promise<void> {
  const back = new AbortController();
  const onReport = (host: string): void => {
    if (host === r.host && backHealthy(ctx, r)) back.abort();
  };
  ctx.reports.on('report', onReport);
  const backOrAfter = (ms: number): Promise<'back' | 'late'> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve('late'), Math.max(ms, 0));
      back.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve('back');
        },
        { once: true },
      );
    });
  let offset = 0;
  let status: T.CommandStatus | undefined;
  let ended: T.CommandStatus | undefined;
  try {
    while (Date.now() < until && !back.signal.aborted) {
      const asked = Date.now();
      const wait = Math.min(READ_WAIT_MS, Math.max(until - asked, 0));
      const read = ctx.commands.read(id, offset, wait);
      const early = new Promise<'back'>((resolve) => back.signal.addEventListener('abort', () => resolve('back'), { once: true }));
      const seen = await Promise.race([read, early]);
      if (seen === 'back') {
        void read.catch(() => undefined); // its long read ends by itself
        break;
      }
      if (ENDED.includes(seen.status)) {
        ended = seen.status;
        break;
      }
      // answered early with nothing new (a closing queue): no busy loop; a new status (taken: running) reads again at once
      if (Date.now() - asked < 50 && seen.offset === offset && seen.status === status) await new Promise((res) => setTimeout(res, 250));
      offset = seen.offset;
      status = seen.status;
    }
    if (ended === 'done' && !back.signal.aborted && newNotHealthy(ctx, r)) {
      await backOrAfter(Math.min(HEALTHY_AFTER_END_MS, until - Date.now()));
    }
  } catch {
    // the command is gone (retained no longer): it ended
  } finally {
    ctx.reports.off('report', onReport);
    back.abort(); // ends the waits still listening
  }
  if (Date.now() >= until) return;
  await ctx.balancers
    .clear(r.host, r.tag, undefined, r.process ?? undefined) // one process's restart: its own mark only (a whole tag's: every mark of the tag, as before)
    .catch((err: Error) =>
      process.emitWarning(`restart #${id}: clearing the drain of ${r.host} failed (it expires by itself): ${err.message}`),
    );
}

/**
 * The command `id` if `who` may see it. Another team's command is not found, as if it did not
 * exist (docs/security.md: a single object outside the caller's scope is 404, and its tag is not named).
 */
async function visibleCommand(ctx: ServerContext, who: Principal, id: number): Promise<T.CommandView> {
  const view = await ctx.commands.peek(id);
  if (!canSee(who, view.tag)) throw commandNotFound(id);
  return view;
}

function idOf(params: unknown): number {
  const raw = (params as { id: string }).id;
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1) throw new NoopsError('NOOPS_E_INPUT', `"${raw}" is not a command id`);
  return id;
}
