/**
 * `GET /deployments/:id/events`: a deployment as it happens, as server-sent events. The first
 * event is the whole deployment; then `log` for each line of its log and `deployment` after each
 * change; the stream ends after the deployment has. A client that reconnects gets the whole
 * deployment again first, so it misses nothing it needs.
 *
 * `?view=summary`: `summary` events (deploy-summary.ts: counts, hosts in flight, failures; a few
 * kB) in place of `deployment` ones (the whole deployment, about 3 MB at 10,000 hosts, after
 * every step), each only when the summary changed. What `noops deploy` and the console follow.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type * as T from '../../api/index.js';
import { encodeEvent, KEEP_ALIVE } from '../../api/index.js';
import type { DeploymentRow } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import { authorize } from '../auth.js';
import { deploymentOf, deploymentView } from './views.js';
import { deploymentSummary } from './deploy-summary.js';
import { summaryById } from './deploy-reads.js';
import { parseQuery } from './parse.js';

/** A comment every 15 s keeps idle proxies (often 30-60 s) from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;

export async function deployEventRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.get('/deployments/:id/events', { config: { access: 'viewer' } }, async (req, reply) => {
    const q = parseQuery(z.object({ view: z.enum(['summary']).optional() }).strict(), req.query, 'deployment events');
    const raw = (req.params as { id: string }).id;
    // a summary's stream reads the deployment's head and counts, never every host's row (deploy-reads.ts)
    const row = q.view === 'summary' ? await summaryById(ctx, raw, req.principal) : await deploymentOf(ctx, raw, req.principal);
    authorize(req.principal, row.tag, 'viewer');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: pass each event on at once
    });
    let sentIndex = 0;
    const sendSummary = (s: T.DeploymentSummary): void => {
      if (s.index === sentIndex) return;
      sentIndex = s.index;
      res.write(encodeEvent('summary', s));
    };
    /** the deployment as this stream sends it: whole, or its summary when it changed */
    const sendDeployment = (d: DeploymentRow): void => {
      if (q.view === 'summary') sendSummary(deploymentSummary(d));
      else res.write(encodeEvent('deployment', deploymentView(d)));
    };
    const onChange = (d: DeploymentRow): void => {
      if (d.id !== row.id) return;
      sendDeployment(d);
      if (d.status !== 'running') close();
    };
    const onLog = (id: number, line: T.RolloutLogLine): void => {
      if (id === row.id) res.write(encodeEvent('log', line));
    };
    const timer = setInterval(() => res.write(KEEP_ALIVE), KEEP_ALIVE_MS);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      ctx.rollout.off('change', onChange);
      ctx.rollout.off('log', onLog);
      res.end();
    };
    req.raw.once('close', close);
    ctx.rollout.on('change', onChange);
    ctx.rollout.on('log', onLog);
    ctx.rollout.viewConnected(); // a server that follows relays the leader's lines from now on
    // Read again after subscribing: a change between the first read and now is not lost.
    if (q.view === 'summary') {
      const s = await summaryById(ctx, raw, req.principal);
      sendSummary(s);
      if (s.status !== 'running') close();
      return;
    }
    const now = ctx.rollout.current(row.id) ?? (await ctx.store.getDeployment(row.id)) ?? (row as DeploymentRow);
    sendDeployment(now);
    if (now.status !== 'running') close();
  });
}
