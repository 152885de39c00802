/**
 * Tokens: an admin hands a team a role on one node of the tree (`viewer`, `deployer`, `admin`),
 * makes join tokens for new hosts (limited in uses and time), lists and revokes them. Secrets are
 * shown once, at creation; the store keeps only their sha256.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import type { TokenRow } from '../../store/index.js';
import { authorize, canSee, isServerAdmin, principalOf, requireServerAdmin, tokenId } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { AGENT_TOKENS_CHANGED, revocationMark, type PrincipalCache } from '../principals.js';
import { hashToken, newSecret } from '../tokens.js';
import { parseBody, parseQuery, TagInput } from './parse.js';
import { PageQuery, pageOf, parsePage } from './paging.js';

const TokenName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a token\'s name is lower-case letters, digits and "-"');
const Expiry = z.string().datetime({ offset: true, message: 'expiresAt is an ISO-8601 time, e.g. 2027-01-01T00:00:00Z' });

const CreateBody = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('team'),
      name: TokenName,
      scope: TagInput,
      role: z.enum(['viewer', 'deployer', 'admin']).default('deployer'),
      expiresAt: Expiry.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('join'),
      name: TokenName,
      /** how many hosts may join with it; none: no limit */
      uses: z.number().int().min(1).max(1_000_000).optional(),
      expiresAt: Expiry.optional(),
    })
    .strict(),
]);

export async function tokenRoutes(api: FastifyInstance, ctx: ServerContext, principals: PrincipalCache): Promise<void> {
  api.post('/tokens', { config: { access: 'admin' } }, async (req, reply): Promise<T.TokenCreated> => {
    const raw = req.body as { kind?: unknown } | null | undefined;
    // Before kinds, a body without one made a team token: it still does.
    const body = parseBody(
      CreateBody,
      raw && typeof raw === 'object' && raw.kind === undefined ? { ...raw, kind: 'team' } : raw,
      'token create',
    );
    const who = req.principal;
    const at = new Date().toISOString();
    if (body.expiresAt !== undefined && new Date(body.expiresAt).toISOString() <= at) {
      throw new NoopsError('NOOPS_E_INPUT', `token create: expiresAt ${body.expiresAt} is not in the future`);
    }
    const expiresAt = body.expiresAt === undefined ? null : new Date(body.expiresAt).toISOString();
    let row: TokenRow;
    let secret: string;
    if (body.kind === 'join') {
      requireServerAdmin(who, 'make join tokens');
      secret = newSecret('join');
      row = {
        hash: hashToken(secret),
        kind: 'join',
        name: body.name,
        scope: null,
        createdAt: at,
        role: null,
        expiresAt,
        usesLeft: body.uses ?? null,
        createdBy: who.name,
      };
    } else {
      const scope = await ctx.tags.resolveAny(body.scope);
      // A team's admin hands out roles within its own subtree only.
      authorize(who, scope, 'admin');
      await ctx.tags.ensure(scope);
      secret = newSecret('team');
      row = {
        hash: hashToken(secret),
        kind: 'team',
        name: body.name,
        scope,
        createdAt: at,
        role: body.role,
        expiresAt,
        usesLeft: null,
        createdBy: who.name,
      };
    }
    await ctx.store.tx(async (s) => {
      await s.putToken(row);
      await s.audit({
        at,
        actor: who.name,
        action: 'token.create',
        target: row.scope ?? row.name,
        detail: { id: tokenId(row.hash), kind: row.kind, name: row.name, role: row.role, expiresAt, uses: row.usesLeft },
      });
    });
    reply.status(201);
    return { ...tokenView(row), token: secret };
  });

  api.get('/tokens', { config: { access: 'admin' } }, async (req, reply): Promise<T.TokenView[]> => {
    const q = parseQuery(
      z.object({ kind: z.enum(['admin', 'team', 'agent', 'join']).optional(), ...PageQuery }).strict(),
      req.query,
      'token ls',
    );
    // Paged: a fleet's agent tokens alone are one per host.
    return pageOf(
      (await ctx.store.listTokens()).filter((t) => (q.kind === undefined || t.kind === q.kind) && mayManage(req.principal, t)),
      parsePage(q),
      reply,
    ).map(tokenView);
  });

  /** DELETE /tokens/ID-or-NAME: the token stops working at once. */
  api.delete('/tokens/:ref', { config: { access: 'admin' } }, async (req): Promise<T.TokenView[]> => {
    const ref = (req.params as { ref: string }).ref;
    const who = req.principal;
    const all = (await ctx.store.listTokens()).filter((t) => mayManage(who, t));
    const byId = all.filter((t) => tokenId(t.hash) === ref);
    const matched = byId.length > 0 ? byId : all.filter((t) => t.name === ref && t.kind !== 'agent');
    if (matched.length === 0)
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no token "${ref}"`, { hint: '`noops token ls` lists the tokens with their ids' });
    if (matched.length > 1) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `"${ref}" names ${matched.length} tokens (${matched.map((t) => tokenId(t.hash)).join(', ')}); revoke one by its id`,
      );
    }
    const t = matched[0]!;
    if (t.kind === 'admin') {
      throw new NoopsError('NOOPS_E_INPUT', "the server's admin token cannot be revoked through the API", {
        hint: 'to replace it, stop the server, delete DATA/admin.token and remove its row, then start the server: it writes a new one',
      });
    }
    const at = new Date().toISOString();
    await ctx.store.tx(async (s) => {
      await s.deleteToken(t.hash);
      if (t.kind === 'agent') await s.setMeta(AGENT_TOKENS_CHANGED, revocationMark()); // other servers forget it within a second
      await s.audit({
        at,
        actor: who.name,
        action: 'token.revoke',
        target: t.scope ?? t.name,
        detail: { id: tokenId(t.hash), kind: t.kind, name: t.name },
      });
    });
    if (t.kind === 'agent') principals.forgetAgent(t.name);
    // The first join token lives in DATA/join.token too: without the file, a restart cannot bring it back.
    if (t.kind === 'join' && t.createdBy === null) rmSync(join(ctx.config.dataDir, 'join.token'), { force: true });
    return [tokenView(t)];
  });
}

/** Whether `who` may list and revoke `t`: the admin every token, a team's admin the team tokens under its scope. */
function mayManage(who: Principal, t: TokenRow): boolean {
  if (isServerAdmin(who)) return true;
  return t.kind === 'team' && t.scope !== null && canSee(who, t.scope);
}

export function tokenView(t: TokenRow): T.TokenView {
  const p = principalOf(t);
  return {
    id: p.id,
    kind: t.kind,
    name: t.name,
    scope: t.scope,
    role: p.role,
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    expiresAt: t.expiresAt,
    usesLeft: t.usesLeft,
  };
}
