/**
 * The HTTP API: a fastify app with token auth on every route, one error format, and the
 * route modules. Built in-process so tests can `inject()` or listen on a real port.
 */
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import { NoopsError } from '../errors/index.js';
import { API_PREFIX } from '../api/types.js';
import type { ServerContext } from './context.js';
import { PrincipalCache } from './principals.js';
import { hashToken } from './tokens.js';
import { agentRoutes } from './routes/agent.js';
import { viewRoutes } from './routes/views.js';
import { buildRoutes } from './routes/builds.js';
import { clusterRoutes } from './routes/clusters.js';
import { deployRoutes } from './routes/deploys.js';
import { deployEventRoutes } from './routes/deploy-events.js';
import { tokenRoutes } from './routes/tokens.js';
import { commandRoutes } from './routes/commands.js';
import { supervisionRoutes } from './routes/supervision.js';
import { runtimeRoutes } from './routes/runtimes.js';
import { nodeRoutes } from './routes/nodes.js';
import { hostAdoptRoutes } from './routes/hosts-adopt.js';
import { consoleDirs, consoleRoutes, type ConsoleDirs } from './console.js';

/** The largest JSON body: a cluster.conf or an agent report of a busy host fits easily. */
const BODY_LIMIT = 4 * 1024 * 1024;

/**
 * The app: the API under /api/v1 (every route needs a token) and the web console at / (public
 * files that show nothing without a token). `console: false` leaves the console out.
 */
export async function buildApp(ctx: ServerContext, opts: { console?: ConsoleDirs | false } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, forceCloseConnections: true });

  app.setErrorHandler((err: FastifyError | NoopsError, _req, reply) => {
    if (err instanceof NoopsError) return reply.status(err.status).send(err.toJSON());
    if ((err as FastifyError).validation || (err as FastifyError).statusCode === 400 || (err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(400).send(new NoopsError('NOOPS_E_INPUT', err.message).toJSON());
    }
    if ((err as FastifyError).statusCode === 413) {
      return reply.status(413).send(new NoopsError('NOOPS_E_INPUT', 'the request body is too large').toJSON());
    }
    process.stderr.write(`noops server: ${err.stack ?? err.message}\n`);
    return reply.status(500).send(new NoopsError('NOOPS_E_INTERNAL', err.message).toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(new NoopsError('NOOPS_E_NOT_FOUND', `no route ${req.method} ${req.url}`).toJSON());
  });

  // Every API route needs a token; the route's config says which kinds may call it.
  const principals = new PrincipalCache();
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith(API_PREFIX)) return;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new NoopsError('NOOPS_E_UNAUTHORIZED', 'this API needs a token (Authorization: Bearer TOKEN)');
    const hash = hashToken(match[1]!);
    let who = principals.get(hash);
    if (!who) {
      const row = await ctx.store.findToken(hash);
      if (!row) throw new NoopsError('NOOPS_E_UNAUTHORIZED', 'the token is not known to this server');
      who = { kind: row.kind, name: row.name, scope: row.scope };
      principals.set(hash, who);
    }
    const allow = req.routeOptions.config?.allow ?? ['admin', 'team'];
    if (!allow.includes(who.kind)) {
      throw new NoopsError('NOOPS_E_FORBIDDEN', `a ${who.kind} token may not call ${req.method} ${req.routeOptions.url ?? req.url}`);
    }
    req.principal = who;
  });

  await app.register(async (api) => {
    await agentRoutes(api, ctx, principals);
    await viewRoutes(api, ctx);
    await buildRoutes(api, ctx);
    await clusterRoutes(api, ctx);
    await deployRoutes(api, ctx);
    await deployEventRoutes(api, ctx);
    await tokenRoutes(api, ctx);
    await commandRoutes(api, ctx);
    await supervisionRoutes(api, ctx);
    await runtimeRoutes(api, ctx);
    await nodeRoutes(api, ctx);
    await hostAdoptRoutes(api, ctx);
  }, { prefix: API_PREFIX });
  if (opts.console !== false) await consoleRoutes(app, opts.console ?? consoleDirs());
  return app;
}
