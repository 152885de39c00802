/** The agent protocol: join, report (the heartbeat), desired state (long poll), packages. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type { DesiredInstance, DesiredState, JoinResponse } from '../../api/types.js';
import { API_PREFIX } from '../../api/types.js';
import type { ReleaseManifest } from '../../release/types.js';
import type { ServerContext } from '../context.js';
import { PackageCache } from '../package-cache.js';
import type { PrincipalCache } from '../principals.js';
import { hashToken, newSecret } from '../tokens.js';
import { serverIdentity, serverStamp } from '../trust.js';
import { HostName, parseBody } from './parse.js';

const JoinBody = z.object({
  name: HostName,
  labels: z.record(z.string().regex(/^[a-zA-Z0-9_.\/-]{1,63}$/, 'a label key is letters, digits, "_", ".", "/" and "-"'), z.string().max(256)).default({}),
}).strict();

const ProcessReport = z.object({
  tag: z.string(), process: z.string(), version: z.string(), state: z.string(),
  pid: z.number().int().nullable(), port: z.number().int().nullable(), restarts: z.number().int(),
  startedAt: z.string().nullable(), error: z.string().nullable(),
  health: z.enum(['starting', 'healthy', 'unhealthy']).optional(),
  healthySince: z.string().nullable().optional(),
  healthError: z.string().nullable().optional(),
  downloaded: z.boolean().optional(),
}).strict();
const RuntimesReport = z.object({
  platform: z.string().max(64),
  canInstall: z.boolean(),
  reason: z.string().max(4096).nullable(),
  installed: z.array(z.string().max(256)).max(10_000),
}).strict();
const Metric = z.object({
  endpoint: z.string(), metric: z.string(), value: z.number(), timestamp: z.number().int(), step: z.number().int(),
  counterType: z.literal('GAUGE'), tags: z.string(),
}).strict();
const Event = z.object({
  seq: z.number().int(), at: z.string(), tag: z.string().nullable(), name: z.string(), kind: z.string(), message: z.string(),
}).strict();
const Cron = z.object({
  tag: z.string(), name: z.string(), schedule: z.string(), running: z.boolean(), nextRunAt: z.string().nullable(),
  lastRun: z.object({ startedAt: z.string(), endedAt: z.string(), result: z.string(), message: z.string() }).strict().nullable(),
  runs: z.number().int(), skipped: z.number().int(),
}).strict();
const TrustReport = z.object({
  state: z.enum(['accepted', 'refused']), server: z.string().max(64).nullable(), generation: z.number().int(),
  reason: z.string().max(4096).optional(), refusal: z.string().max(64).optional(), since: z.string().max(64).optional(),
}).strict();
const ReportBody = z.object({
  processes: z.array(ProcessReport),
  failures: z.array(z.object({ tag: z.string(), version: z.string(), error: z.string() }).strict()),
  generation: z.number().int(),
  metrics: z.array(Metric).optional(),
  events: z.array(Event).optional(),
  crons: z.array(Cron).optional(),
  runtimes: RuntimesReport.optional(),
  trust: TrustReport.optional(),
}).strict();

export async function agentRoutes(api: FastifyInstance, ctx: ServerContext, principals: PrincipalCache): Promise<void> {
  const packages = new PackageCache(ctx.artifacts);
  api.post('/agent/join', { config: { allow: ['join'] } }, async (req): Promise<JoinResponse> => {
    const body = parseBody(JoinBody, req.body, 'join');
    const token = newSecret('agent');
    const at = new Date().toISOString();
    // Joining again (a new root, a lost token) replaces the host's old token.
    await ctx.store.deleteTokens('agent', body.name);
    principals.forgetAgent(body.name);
    await ctx.store.putToken({ hash: hashToken(token), kind: 'agent', name: body.name, scope: null, createdAt: at });
    await ctx.store.upsertHost({ name: body.name, labels: body.labels, address: req.ip ?? null, joinedAt: at });
    await ctx.store.audit({ at, actor: body.name, action: 'agent.join', target: body.name, detail: { labels: body.labels, address: req.ip } });
    return { token, heartbeatMs: ctx.config.heartbeatMs, serverId: await serverIdentity(ctx.store) };
  });

  api.post('/agent/report', { config: { allow: ['agent'] } }, async (req) => {
    const body = parseBody(ReportBody, req.body, 'report');
    await ctx.reports.receive(req.principal.name, body);
      const generation = await ctx.store.desiredGeneration(req.principal.name);
      // The heartbeat goes back on every report: an agent that restarted with its saved token never joined again to learn it.
      return { generation, heartbeatMs: ctx.config.heartbeatMs };
  });

  api.get('/agent/desired', { config: { allow: ['agent'] } }, async (req): Promise<DesiredState> => {
    const host = req.principal.name;
    const q = req.query as { after?: string; commands?: string };
    const after = Number(q.after ?? -1);
    if (!Number.isInteger(after)) throw new NoopsError('NOOPS_E_INPUT', 'after must be an integer generation');
    // An agent that asks for commands too holds this one poll instead of two: a server's
    // connections (and file descriptors) are one per agent, not two.
    const withCommands = q.commands === '1';
    // An agent that is up to date waits: check with the generation alone, read the state after.
    if ((await ctx.store.desiredGeneration(host)) <= after && !(withCommands && ctx.commands.hasQueued(host))) {
      const gone = new AbortController();
      req.raw.once('close', () => gone.abort());
      await ctx.hub.wait(host, ctx.config.longPollMs, gone.signal);
    }
    const state = await ctx.store.getDesired(host);
    const instances: DesiredInstance[] = [];
    for (const e of state.entries) {
      const kind = e.kind ?? (e.deploymentId === null ? 'deploy' : (await ctx.rollout.kindOf(e.deploymentId)));
      const manifest = e.manifest as unknown as ReleaseManifest;
      instances.push({
        tag: e.tag, version: e.version, sha256: e.sha256, url: `${API_PREFIX}/artifacts/${e.sha256}`,
        manifest, deploymentId: e.deploymentId, kind, runtimes: await ctx.runtimes.refsFor(manifest),
      });
    }
    return { generation: state.generation, instances, server: await serverStamp(ctx.store, host), ...(withCommands && { commands: ctx.commands.takeQueued(host) }) };
  });

  api.get('/artifacts/:sha256', { config: { allow: ['agent', 'admin', 'team'] } }, async (req, reply) => {
    const { sha256 } = req.params as { sha256: string };
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new NoopsError('NOOPS_E_INPUT', 'an artifact is named by its sha256: 64 lower-case hex characters');
    if (!(await ctx.artifacts.has(sha256))) throw new NoopsError('NOOPS_E_NOT_FOUND', `no package with sha256 ${sha256}`);
    reply.header('content-type', 'application/gzip');
    return reply.send((await packages.get(sha256)) ?? (await ctx.artifacts.open(sha256)));
  });
}
