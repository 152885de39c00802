/**
 * Deploys and rollbacks: both start a deployment; the client follows it by id (its summary,
 * `GET /deployments/:id/summary`, or its stream, `GET /deployments/:id/events`) and steers it
 * with `POST /deployments/:id/(pause|resume|promote|abort)`. Each start and action takes
 * `?view=summary`: answered with the summary, not the whole deployment.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import { jobOf, parsePolicy, type PolicyInput } from '../../rollout/index.js';
import { releaseOfUrl } from '../../import/import.js';
import { importDeps } from '../context.js';
import type { ServerContext } from '../context.js';
import { authorize } from '../auth.js';
import { secretBook } from '../../secrets/sealed.js';
import { deploymentView, ViewParam } from './views.js';
import { HostName, parseBody, parseQuery, TagInput, Version } from './parse.js';
import { deploymentHeadOf } from './deploy-reads.js';
import { deploymentSummary } from './deploy-summary.js';

const Overrides = {
  policy: z.record(z.string(), z.unknown()).optional(),
  canary: z.array(HostName).min(1, 'name at least one canary host').optional(),
};
const DeployBody = z
  .object({
    tag: TagInput,
    version: Version.optional(),
    /** the policy's `timeout` (kept from the first API) */
    timeout: z.number().int().positive().max(86_400).optional(),
    ...Overrides,
  })
  .strict();
const RollbackBody = z.object({ tag: TagInput, to: Version.optional(), ...Overrides }).strict();
const UndeployBody = z.object({ tag: TagInput, policy: Overrides.policy }).strict();
const ACTIONS: readonly T.DeploymentAction[] = ['pause', 'resume', 'promote', 'abort'];

/** `?view=summary` (or nothing): what a start or an action answers. */
const ViewQuery = z.object({ view: ViewParam }).strict();

/**
 * A started deployment as asked: whole, or with `?view=summary` its summary (a few kB, not every
 * host's part: about 3 MB at 10,000 hosts, serialized while the polls it wakes wait for the server).
 */
function asViewed(row: Parameters<typeof deploymentView>[0], view: 'summary' | undefined): T.DeploymentView | T.DeploymentSummary {
  return view === 'summary' ? deploymentSummary(row) : deploymentView(row);
}

/** A deploy's policy overrides: its `policy` keys, and `timeout` if given on its own. */
function overrides(body: { policy?: Record<string, unknown>; timeout?: number }, what: string): PolicyInput {
  return parsePolicy({ ...body.policy, ...(body.timeout === undefined ? {} : { timeout: body.timeout }) }, what);
}

export async function deployRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.post('/deployments', { config: { access: 'deployer' } }, async (req, reply): Promise<T.DeploymentView | T.DeploymentSummary> => {
    const q = parseQuery(ViewQuery, req.query, 'deploy'); // before anything starts: a bad view starts nothing
    const body = parseBody(DeployBody, req.body, 'deploy');
    const tag = await ctx.tags.resolve(body.tag, { level: 'cluster' });
    authorize(req.principal, tag, 'deployer');
    let version = body.version;
    if (!version) {
      // The version a cluster.conf names is the one to run when none is given.
      // The version a cluster.conf names is the one to run when none is given; or its pkg_url's,
      // a package built elsewhere, imported on the first deploy that needs it (docs/import.md).
      const policy = (await ctx.store.getCluster(tag))?.policy;
      if (typeof policy?.pkg_url === 'string') {
        version = (await releaseOfUrl(importDeps(ctx), jobOf(tag), policy.pkg_url, req.principal.name)).version;
      } else if (typeof policy?.version === 'string') {
        version = policy.version;
      } else {
        throw new NoopsError('NOOPS_E_INPUT', `deploy needs a version (-v); ${tag}'s cluster.conf names none (nor a pkg_url)`);
      }
    }
    await secretBook(ctx).checkDeploy(tag, version); // a missing secret changes nothing anywhere
    const row = await ctx.rollout.startDeploy({
      tag,
      version,
      kind: 'deploy',
      initiator: req.principal.name,
      policy: overrides(body, 'deploy'),
      canary: body.canary,
    });
    reply.status(202);
    return asViewed(row, q.view);
  });

  api.post('/rollbacks', { config: { access: 'deployer' } }, async (req, reply): Promise<T.DeploymentView | T.DeploymentSummary> => {
    const q = parseQuery(ViewQuery, req.query, 'rollback');
    const body = parseBody(RollbackBody, req.body, 'rollback');
    const tag = await ctx.tags.resolve(body.tag, { level: 'cluster' });
    authorize(req.principal, tag, 'deployer');
    const policy = overrides(body, 'rollback');
    const version = body.to ?? (await ctx.rollout.rollbackTarget(tag));
    await secretBook(ctx).checkDeploy(tag, version);
    const row = await ctx.rollout.startDeploy({
      tag,
      version,
      kind: 'rollback',
      initiator: req.principal.name,
      policy,
      canary: body.canary,
    });
    reply.status(202);
    return asViewed(row, q.view);
  });

  // An undeploy stops what the cluster runs, in its batches, recorded in its history; the
  // cluster keeps its hosts (a deploy starts it again).
  api.post('/undeploys', { config: { access: 'deployer' } }, async (req, reply): Promise<T.DeploymentView | T.DeploymentSummary> => {
    const q = parseQuery(ViewQuery, req.query, 'undeploy');
    const body = parseBody(UndeployBody, req.body, 'undeploy');
    const tag = await ctx.tags.resolve(body.tag, { level: 'cluster' });
    authorize(req.principal, tag, 'deployer');
    const row = await ctx.rollout.startUndeploy({ tag, initiator: req.principal.name, policy: overrides(body, 'undeploy') });
    reply.status(202);
    return asViewed(row, q.view);
  });

  api.post('/deployments/:id/:action', { config: { access: 'deployer' } }, async (req): Promise<T.DeploymentView | T.DeploymentSummary> => {
    const { id, action } = req.params as { id: string; action: string };
    if (!ACTIONS.includes(action as T.DeploymentAction)) {
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment action "${action}" (there are ${ACTIONS.join(', ')})`);
    }
    const q = parseQuery(ViewQuery, req.query, `deployment ${action}`);
    const head = await deploymentHeadOf(ctx, id, req.principal);
    authorize(req.principal, head.tag, 'deployer');
    const row = await ctx.rollout.act(head.id, action as T.DeploymentAction, req.principal.name);
    // ?view=summary: the deployment's head and counts (a few kB), not every host's part (about 3 MB at 10,000 hosts)
    return asViewed(row, q.view);
  });
}
