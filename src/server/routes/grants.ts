/**
 * Root, allowed per subtree: processes never run as root unless the server's admin allowed it
 * on their node or a node above it (`noops root allow --scope TAG`). Deploys check it before
 * they start (src/rollout/check-user.ts); agents get it with each desired instance
 * (`allowRoot`) and refuse to start a process as uid 0 without it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import type { GrantRow } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import { grantsChanged } from '../grants-cache.js';
import { parseBody, parseQuery, TagInput } from './parse.js';
import { PageQuery, pageOf, parsePage } from './paging.js';

const ScopeBody = z.object({ scope: TagInput }).strict();

export async function grantRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  /** GET /grants/root: the nodes under which processes may run as root. */
  api.get('/grants/root', { config: { access: 'server-admin' } }, async (req, reply): Promise<T.RootGrantView[]> => {
    const q = parseQuery(z.object(PageQuery).strict(), req.query, 'root ls');
    return pageOf(
      (await ctx.store.listGrants()).filter((g) => g.grant === 'root'),
      parsePage(q),
      reply,
    ).map(grantView);
  });

  /** PUT /grants/root {scope}: processes under the node may run as root (201 when new). */
  api.put('/grants/root', { config: { access: 'server-admin' } }, async (req, reply): Promise<T.RootGrantView> => {
    const body = parseBody(ScopeBody, req.body, 'root allow');
    const scope = await ctx.tags.resolveAny(body.scope);
    const existing = (await ctx.store.listGrants()).find((g) => g.grant === 'root' && g.scope === scope);
    if (existing) return grantView(existing);
    await ctx.tags.ensure(scope);
    const row: GrantRow = { scope, grant: 'root', createdBy: req.principal.name, createdAt: new Date().toISOString() };
    await ctx.store.tx(async (s) => {
      await s.putGrant(row);
      await s.audit({ at: row.createdAt, actor: row.createdBy, action: 'root.allow', target: scope, detail: { grant: 'root' } });
    });
    grantsChanged(ctx.store);
    ctx.desired.changed(); // every answer's allowRoot
    reply.status(201);
    return grantView(row);
  });

  /**
   * DELETE /grants/root/:scope: root is no longer allowed there. Deploys are refused from now
   * on; what already runs as root keeps running until its next deploy or restart.
   */
  api.delete('/grants/root/:scope', { config: { access: 'server-admin' } }, async (req): Promise<T.RootGrantView> => {
    const raw = (req.params as { scope: string }).scope;
    const scope = await ctx.tags.resolveAny(parseBody(ScopeBody, { scope: raw }, 'root deny').scope);
    const existing = (await ctx.store.listGrants()).find((g) => g.grant === 'root' && g.scope === scope);
    if (!existing) {
      throw new NoopsError('NOOPS_E_NOT_FOUND', `root is not allowed on ${scope} itself`, {
        hint: '`noops root ls` lists the nodes root is allowed on; a grant on a node above covers this one and is removed there',
      });
    }
    await ctx.store.tx(async (s) => {
      await s.deleteGrant(scope, 'root');
      await s.audit({
        at: new Date().toISOString(),
        actor: req.principal.name,
        action: 'root.deny',
        target: scope,
        detail: { grant: 'root', allowedBy: existing.createdBy },
      });
    });
    grantsChanged(ctx.store);
    ctx.desired.changed(); // every answer's allowRoot
    return grantView(existing);
  });
}

function grantView(g: GrantRow): T.RootGrantView {
  return { scope: g.scope, createdBy: g.createdBy, createdAt: g.createdAt };
}
