/** Deploys and rollbacks: both start a deployment; the client follows it by id. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/types.js';
import type { ServerContext } from '../context.js';
import { TagBook } from '../tags.js';
import { deploymentView } from './views.js';
import { parseBody, TagInput, Version } from './parse.js';

const DeployBody = z.object({
  tag: TagInput,
  version: Version.optional(),
  timeout: z.number().int().positive().max(86_400).optional(),
}).strict();
const RollbackBody = z.object({ tag: TagInput, to: Version.optional() }).strict();

export async function deployRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.post('/deployments', async (req, reply): Promise<T.DeploymentView> => {
    const body = parseBody(DeployBody, req.body, 'deploy');
    const tag = await ctx.tags.resolve(body.tag, { level: 'cluster' });
    TagBook.authorize(req.principal, tag);
    let version = body.version;
    if (!version) {
      // The version a cluster.conf names is the one to run when none is given.
      const conf = (await ctx.store.getCluster(tag))?.policy.version;
      if (typeof conf !== 'string') throw new NoopsError('NOOPS_E_INPUT', `deploy needs a version (-v); ${tag}'s cluster.conf names none`);
      version = conf;
    }
    const row = await ctx.rollout.startDeploy({ tag, version, kind: 'deploy', initiator: req.principal.name, timeoutSeconds: body.timeout });
    reply.status(202);
    return deploymentView(row);
  });

  api.post('/rollbacks', async (req, reply): Promise<T.DeploymentView> => {
    const body = parseBody(RollbackBody, req.body, 'rollback');
    const tag = await ctx.tags.resolve(body.tag, { level: 'cluster' });
    TagBook.authorize(req.principal, tag);
    const version = body.to ?? (await ctx.rollout.rollbackTarget(tag));
    const row = await ctx.rollout.startDeploy({ tag, version, kind: 'rollback', initiator: req.principal.name });
    reply.status(202);
    return deploymentView(row);
  });
}
