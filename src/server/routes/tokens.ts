/** Team tokens: an admin hands a team a token that may act only under one node of the tree. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServerContext } from '../context.js';
import { hashToken, newSecret } from '../tokens.js';
import { parseBody, TagInput } from './parse.js';

const CreateBody = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a team name is lower-case letters, digits and "-"'),
  scope: TagInput,
}).strict();

export async function tokenRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.post('/tokens', { config: { allow: ['admin'] } }, async (req) => {
    const body = parseBody(CreateBody, req.body, 'token create');
    const scope = await ctx.tags.resolveAny(body.scope);
    await ctx.tags.ensure(scope);
    const token = newSecret('team');
    const at = new Date().toISOString();
    await ctx.store.putToken({ hash: hashToken(token), kind: 'team', name: body.name, scope, createdAt: at });
    await ctx.store.audit({ at, actor: req.principal.name, action: 'token.create', target: scope, detail: { name: body.name } });
    return { name: body.name, scope, token };
  });
}
