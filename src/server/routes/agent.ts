/** The agent protocol: join, report (the heartbeat), desired state (long poll), packages. */
import { withStale } from '../schedule-wiring.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import { BALANCER_NAME_RE, MEMBER_STATES, type JoinResponse } from '../../api/index.js';
import type { Principal, ServerContext } from '../context.js';
import { canSee } from '../auth.js';
import { PackageCache } from '../../artifacts/package-cache.js';
import { parseRange } from '../../swarm/index.js';
import { createReadStream } from 'node:fs';
import { AGENT_TOKENS_CHANGED, revocationMark, type PrincipalCache } from '../principals.js';
import { hashToken, newSecret } from '../tokens.js';
import { serverIdentity } from '../trust.js';
import { answerJson } from '../desired-view.js';
import { parkPoll } from './agent-park.js';
import { REPORT_MAX_BYTES, reportLimits } from '../report-limits.js';
import { capacitiesOf } from '../host-capacity.js';
import { HostName, parseBody, parseQuery } from './parse.js';
import { ReportBody } from '../../monitor/report-schema.js';
import { reportPoints } from '../../monitor/index.js';

/**
 * `?after=GEN` (the generation the agent has), `?commands=1` (hold commands in the same poll),
 * `?balancers=INDEX` (the index of the load-balancer pools it has: answered when they change too).
 */
const DesiredQuery = z.object({ after: z.string().optional(), commands: z.string().optional(), balancers: z.string().optional() }).strict();

/** The most pools one report body carries, and members per pool: far above any balancer's. */
const MAX_REPORTED_POOLS = 256;
const MAX_REPORTED_MEMBERS = 10_000;
/** A body of that many is a few MB at most. */
const BALANCER_REPORT_MAX_BYTES = 4 * 1024 * 1024;

/** POST /agent/balancers: what a balancer host's agent applied and sees (api's BalancerReportBody). */
const BalancerReportBody = z
  .object({
    reports: z
      .array(
        z
          .object({
            name: z.string().regex(BALANCER_NAME_RE, 'a pool name is lower-case letters, digits, "_", "." and "-"'),
            index: z
              .number()
              .int()
              .min(0)
              .max(2 ** 48),
            ok: z.boolean(),
            // kept to its first 4,096 characters (a driver may join one error per member)
            error: z
              .string()
              .max(1_000_000)
              .transform((e) => e.slice(0, 4096))
              .optional(),
            at: z.iso.datetime({ offset: true }),
            members: z
              .array(
                z
                  .object({
                    id: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'a member id is [A-Za-z0-9_.:-], at most 100 characters'),
                    state: z.enum(MEMBER_STATES),
                    connections: z.number().int().min(0).max(1e9).nullable(),
                  })
                  .strict(),
              )
              .max(MAX_REPORTED_MEMBERS),
          })
          .strict(),
      )
      .max(MAX_REPORTED_POOLS),
  })
  .strict();

const JoinBody = z
  .object({
    name: HostName,
    labels: z
      .record(z.string().regex(/^[a-zA-Z0-9_./-]{1,63}$/, 'a label key is letters, digits, "_", ".", "/" and "-"'), z.string().max(256))
      .default({}),
    // where peers reach it when not at the address this server sees it at (`--peer-url`): the tracker sends peers there (docs/packages-p2p.md)
    peerUrl: z
      .url({ protocol: /^https?$/ })
      .max(512)
      .optional(),
  })
  .strict();

export async function agentRoutes(api: FastifyInstance, ctx: ServerContext, principals: PrincipalCache): Promise<void> {
  const packages = new PackageCache(ctx.artifacts);
  api.post('/agent/join', { config: { access: 'join' } }, async (req): Promise<JoinResponse> => {
    const body = parseBody(JoinBody, req.body, 'join');
    const at = new Date().toISOString();
    const address = req.ip ?? null;
    const existing = await ctx.store.getHost(body.name);
    // A name whose host is live is taken: a second agent under it would take turns with the
    // first. It waits for an admin (`noops host approve` or `noops host rm`).
    if (
      existing &&
      ctx.reports.isUp(ctx.reports.lastSeen(existing.name, existing.lastHeartbeat)) &&
      !(existing.joinApprovedUntil !== null && existing.joinApprovedUntil > at)
    ) {
      await ctx.store.tx(async (s) => {
        await s.updateHost(body.name, { pendingJoin: { at, address, labels: body.labels } });
        await s.audit({
          at,
          actor: `join@${address ?? 'unknown'}`,
          action: 'agent.join.refused',
          target: body.name,
          detail: { reason: 'live host', address },
        });
      });
      throw new NoopsError('NOOPS_E_HOST_TAKEN', `a live host is already joined as ${body.name}; this join waits for an admin`, {
        hint: `if this is the same machine, an admin runs \`noops host approve ${body.name}\`; otherwise start this agent with another --name`,
      });
    }
    if (!(await ctx.store.useToken(req.tokenHash))) {
      throw new NoopsError('NOOPS_E_UNAUTHORIZED', 'this join token has no joins left', {
        hint: 'ask the admin for a new join token (`noops token create --join`)',
      });
    }
    const token = newSecret('agent');
    // Joining again (a new root, a lost token) replaces the host's old token, in one transaction.
    await ctx.store.tx(async (s) => {
      await s.deleteTokens('agent', body.name);
      if (existing) await s.setMeta(AGENT_TOKENS_CHANGED, revocationMark()); // other servers forget the old token
      await s.putToken({
        hash: hashToken(token),
        kind: 'agent',
        name: body.name,
        scope: null,
        createdAt: at,
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: req.principal.name,
      });
      await s.upsertHost({ name: body.name, labels: body.labels, address, joinedAt: at, ...(body.peerUrl && { peerUrl: body.peerUrl }) });
      if (existing) await s.updateHost(body.name, { pendingJoin: null, joinApprovedUntil: null });
      await s.audit({
        at,
        actor: body.name,
        action: 'agent.join',
        target: body.name,
        detail: {
          labels: body.labels,
          address,
          ...(body.peerUrl && { peerUrl: body.peerUrl }),
          joinToken: req.principal.id,
          replaced: existing !== undefined,
        },
      });
    });
    principals.forgetAgent(body.name);
    return { token, heartbeatMs: ctx.config.heartbeatMs, serverId: await serverIdentity(ctx.store), signing: ctx.signer.key };
  });

  // Limits (report-limits.ts): rate and size are refused before the body is read. fastify's own
  // bodyLimit, one byte over ours, is the backstop.
  api.post('/agent/report', { config: { access: 'agent' }, bodyLimit: REPORT_MAX_BYTES + 1, preParsing: reportLimits() }, async (req) => {
    const body = parseBody(ReportBody, req.body, 'report');
    await ctx.reports.receive(req.principal.name, body); // into the read model of what runs: memory now, the store in batches
    await capacitiesOf(ctx).note(req.principal.name, body.capacity); // what the host offers the scheduler: written only when it changed
    // metric points: checked as a push is; a point for another endpoint than this host is refused (counted)
    if (body.metrics !== undefined && body.metrics.length > 0)
      ctx.metrics.ingest.take(reportPoints(body.metrics, Math.floor(Date.now() / 1000)).points, {
        kind: 'agent',
        host: req.principal.name,
      });
    const generation = await ctx.desired.generation(req.principal.name);
    // The heartbeat goes back on every report: an agent that restarted with its saved token never joined again to learn it.
    return { generation, heartbeatMs: ctx.config.heartbeatMs };
  });

  api.get('/agent/desired', { config: { access: 'agent' } }, async (req, reply): Promise<string> => {
    const host = req.principal.name;
    const q = parseQuery(DesiredQuery, req.query, 'desired state');
    const after = Number(q.after ?? -1);
    if (!Number.isInteger(after)) throw new NoopsError('NOOPS_E_INPUT', 'after must be an integer generation');
    // An agent that asks for commands too holds this one poll instead of two: a server's
    // connections (and file descriptors) are one per agent, not two.
    const withCommands = q.commands === '1';
    // A balancer host's agent passes the index of its pools: a change of them answers the poll too.
    const balancersIndex = q.balancers === undefined ? undefined : Number(q.balancers);
    if (balancersIndex !== undefined && !(/^\d{1,16}$/.test(q.balancers!) && Number.isSafeInteger(balancersIndex)))
      throw new NoopsError('NOOPS_E_INPUT', 'balancers must be the integer index of the pools a previous answer gave');
    const pools = ctx.balancers.view;
    // An agent that is up to date waits: check with the generation alone, read the state after.
    let generation: number | undefined = await ctx.desired.generation(host);
    if (generation <= after && (balancersIndex === undefined || pools.index(host) === balancersIndex)) {
      // the first of: its desired state changed, a command was queued for it (on any server), its
      // pools changed, its client left; then the other waits are taken back (agent-park.ts)
      const waitedOut = await parkPoll(
        ctx,
        host,
        { commands: withCommands, ...(balancersIndex !== undefined && { balancers: balancersIndex }) },
        req.raw,
      );
      // its client left: nobody to answer, so nothing is read (when the server stops, its agents'
      // polls end this way after the store may have closed)
      if (req.socket.destroyed) return reply.hijack();
      // it may have changed while this poll waited: woken, the wake made the view forget the
      // host's generation; waited out, a wake may have been lost, and the store's is read
      generation = waitedOut ? await ctx.desired.generation(host, { fromStore: true }) : undefined;
    }
    try {
      // Resolved when it was written (desired-view.ts): the same bytes as a DesiredState, made once.
      // Commands are taken only for an agent still connected: an abandoned poll leaves them queued for its next one.
      const resolved = await ctx.desired.answer(host, generation);
      // the tags an undeploy removes from this host on purpose (docs/trust.md, "the share of stops")
      const stops = withStale(await ctx.rollout.stopsFor(host), ctx.schedule?.staleFor(host) ?? []); // and the scheduler's stale copies (docs/scheduler.md)
      reply.type('application/json; charset=utf-8');
      // the pools it drives: for a balancer host, or one that asked (a Map lookup for every other host)
      const balancers = balancersIndex !== undefined || pools.drives(host) ? pools.desired(host) : undefined;
      return answerJson(
        resolved,
        stops,
        withCommands && !req.socket.destroyed ? await ctx.commands.takeQueued(host) : undefined,
        balancers,
      );
    } catch (err) {
      // Its client is gone: nobody to tell. A stopping server wakes every parked poll, cuts their
      // connections, then closes the store under the reads the polls began (a stack trace at every stop).
      if (req.socket.destroyed) return reply.hijack();
      throw err;
    }
  });

  // A balancer host's agent reports its pools (after every apply; every 250 ms while a member drains):
  // only pools its host drives (another's: 403, nothing stored). docs/balancers.md.
  api.post('/agent/balancers', { config: { access: 'agent' }, bodyLimit: BALANCER_REPORT_MAX_BYTES }, async (req) => {
    const body = parseBody(BalancerReportBody, req.body, 'balancer report');
    return ctx.balancers.receive(req.principal.name, body.reports);
  });

  // A package goes to an agent whose desired state names it, or to a person who may see its job.
  api.get('/artifacts/:sha256', { config: { access: 'any' } }, async (req, reply) => {
    const { sha256 } = req.params as { sha256: string };
    if (!/^[0-9a-f]{64}$/.test(sha256))
      throw new NoopsError('NOOPS_E_INPUT', 'an artifact is named by its sha256: 64 lower-case hex characters');
    const notFound = (): NoopsError => new NoopsError('NOOPS_E_NOT_FOUND', `no package with sha256 ${sha256}`);
    if (!(await mayFetch(ctx, req.principal, sha256))) throw notFound();
    if (!(await ctx.artifacts.has(sha256))) throw notFound();
    reply.header('content-type', 'application/gzip');
    const held = await packages.get(sha256);
    // One byte range (a piece, for an agent fetching in pieces: docs/packages-p2p.md).
    if (req.headers.range !== undefined) {
      const size = held?.length ?? (await ctx.artifacts.size(sha256));
      const r = parseRange(req.headers.range, size);
      if (!r)
        throw new NoopsError(
          'NOOPS_E_INPUT',
          `range ${req.headers.range} is not one byte range (bytes=A-B) within the package's ${size} bytes`,
        );
      reply.code(206).header('content-range', `bytes ${r.start}-${r.end - 1}/${size}`);
      return reply.send(
        held ? held.subarray(r.start, r.end) : createReadStream(ctx.artifacts.path(sha256), { start: r.start, end: r.end - 1 }),
      );
    }
    return reply.send(held ?? (await ctx.artifacts.open(sha256)));
  });
}

/** Whether `who` may download the package `sha256`. */
async function mayFetch(ctx: ServerContext, who: Principal, sha256: string): Promise<boolean> {
  // An agent: its releases' packages, and the runtimes those releases name.
  if (who.kind === 'agent') return (await ctx.desired.answer(who.name)).fetchable.has(sha256);
  if (who.kind === 'join') return false;
  return (await ctx.store.listReleases()).some((r) => r.sha256 === sha256 && canSee(who, r.job));
}
