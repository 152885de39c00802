/**
 * The HTTP API: a fastify app with token auth on every route, one error format, and the
 * route modules. Built in-process so tests can `inject()` or listen on a real port.
 */
import Fastify, { type FastifyInstance, type FastifyError, type FastifyReply } from 'fastify';
import { NoopsError } from '../errors/index.js';
import { API_PREFIX } from '../api/index.js';
import type { ServerContext } from './context.js';
import { AGENT_TOKENS_CHANGED, PrincipalCache } from './principals.js';
import { DenialLog } from './denials.js';
import { installGate, requireDeclaredAccess } from './gate.js';
import { agentRoutes } from './routes/agent.js';
import { swarmRoutes } from './routes/swarm.js';
import { viewRoutes } from './routes/views.js';
import { buildRoutes } from './routes/builds.js';
import { clusterRoutes } from './routes/clusters.js';
import { deployRoutes } from './routes/deploys.js';
import { deployEventRoutes } from './routes/deploy-events.js';
import { deployViewRoutes } from './routes/deploy-views.js';
import { tokenRoutes } from './routes/tokens.js';
import { hostRoutes } from './routes/hosts.js';
import { commandRoutes } from './routes/agent-commands.js';
import { supervisionRoutes } from './routes/supervision.js';
import { metricsRoutes } from './routes/metrics.js';
import { runtimeRoutes } from './routes/runtimes.js';
import { nodeRoutes } from './routes/nodes.js';
import { secretRoutes } from './routes/secrets.js';
import { hostAdoptRoutes } from './routes/hosts-adopt.js';
import { grantRoutes } from './routes/grants.js';
import { releaseImportRoutes } from './routes/releases-import.js';
import { serverRoutes } from './routes/servers.js';
import { strategyRoutes } from './routes/strategies.js';
import { prometheusRoutes } from './routes/prometheus.js';
import { namingRoutes } from './routes/naming.js';
import { scheduleRoutes } from './routes/schedule.js';
import { balancerRoutes } from './routes/balancers.js';
import { networkRoutes } from './routes/network.js';
import { volumeRoutes } from './routes/volumes.js';
import { alarmRoutes } from './routes/alarms.js';
import { consoleDirs, consoleRoutes, type ConsoleDirs } from './console.js';
import { installJsonBodies } from './json-body.js';

/** The largest JSON body: a cluster.conf or an agent report of a busy host fits easily. */
const BODY_LIMIT = 4 * 1024 * 1024;

/**
 * The app: the API under /api/v1 (every route needs a token) and the web console at / (public
 * files that show nothing without a token). `console: false` leaves the console out; `https`
 * serves TLS with that key and certificate (docs/tls.md).
 */
export async function buildApp(
  ctx: ServerContext,
  opts: { console?: ConsoleDirs | false; https?: { key: string; cert: string } } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
    routerOptions: { querystringParser: parseQuery },
    // fastify's own refusals before routing (a malformed %-encoding in the path) in the one error format
    frameworkErrors: (err, _req, reply) => {
      // fastify types this reply by the route's schema, and there is no route yet
      (reply as unknown as FastifyReply)
        .code(400)
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify(new NoopsError('NOOPS_E_INPUT', `the request's URL is malformed: ${err.message}`).toJSON()));
    },
    ...(opts.https && { https: opts.https }),
  });
  installJsonBodies(app); // no NUL reaches the store (json-body.ts)
  const denials = new DenialLog(ctx.store);

  app.setErrorHandler((err: FastifyError | NoopsError, req, reply) => {
    if (err instanceof NoopsError) {
      // A scope check in a handler refuses too: audited like the gate's refusals.
      if (err.code === 'NOOPS_E_FORBIDDEN' && req.principal) denials.record(req, err);
      return reply.status(err.status).send(err.toJSON());
    }
    if (
      (err as FastifyError).validation ||
      (err as FastifyError).statusCode === 400 ||
      (err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
    ) {
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

  // Every route declares who may call it; the gate checks each call against the matched route.
  const principals = new PrincipalCache(ctx.bus);
  const stopWatching = principals.watch(() => ctx.store.getMeta(AGENT_TOKENS_CHANGED));
  app.addHook('onClose', async () => stopWatching());
  requireDeclaredAccess(app);
  installGate(app, ctx.store, principals, (req, err) => denials.record(req, err));
  await prometheusRoutes(app, ctx); // first: its request counter sees every route after it

  await app.register(
    async (api) => {
      await agentRoutes(api, ctx, principals);
      await swarmRoutes(api, ctx);
      await viewRoutes(api, ctx);
      await buildRoutes(api, ctx);
      await clusterRoutes(api, ctx);
      await deployRoutes(api, ctx);
      await deployEventRoutes(api, ctx);
      await deployViewRoutes(api, ctx);
      await tokenRoutes(api, ctx, principals);
      await hostRoutes(api, ctx, principals);
      await commandRoutes(api, ctx);
      await supervisionRoutes(api, ctx);
      await runtimeRoutes(api, ctx);
      await nodeRoutes(api, ctx);
      await secretRoutes(api, ctx);
      await hostAdoptRoutes(api, ctx);
      await grantRoutes(api, ctx);
      await releaseImportRoutes(api, ctx);
      await serverRoutes(api, ctx);
      await metricsRoutes(api, ctx);
      await strategyRoutes(api, ctx);
      await namingRoutes(api, ctx);
      await scheduleRoutes(api, ctx);
      await alarmRoutes(api, ctx);
      await balancerRoutes(api, ctx);
      await networkRoutes(api, ctx);
      await volumeRoutes(api, ctx);
    },
    { prefix: API_PREFIX },
  );
  if (opts.console !== false) await consoleRoutes(app, opts.console ?? consoleDirs());
  return app;
}

/**
 * Query strings, parsed without a prototype ("__proto__" is just a name). A parameter given twice
 * becomes an array here, and the gate refuses it with a clear 400 (`refuseRepeatedParameters`):
 * a parser must not throw, or the request is dropped without an answer.
 */
export function parseQuery(text: string): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of new URLSearchParams(text)) {
    const had = out[key];
    out[key] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return out;
}
