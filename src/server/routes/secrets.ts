/**
 * Secrets: an admin of a node sets and removes them; a viewer lists their names. No route ever
 * answers a value (see docs/secrets.md).
 *
 *   PUT    /secrets/NAME         { scope, value }  admin on scope   -> SecretView
 *   GET    /secrets[?scope=TAG]                    viewer          -> SecretView[] (what the token may see)
 *   DELETE /secrets/NAME?scope=TAG                 admin on scope   -> SecretView[]
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import { MAX_SECRET_BYTES, SECRET_NAME_RE } from '../../secrets/index.js';
import { isUnder } from '../../tree/index.js';
import { authorize, canSee } from '../auth.js';
import type { ServerContext } from '../context.js';
import { secretBook } from '../../secrets/sealed.js';
import { parseBody, parseQuery, TagInput } from './parse.js';
import { PageQuery, pageOf, parsePage } from './paging.js';

const SetBody = z
  .object({
    scope: TagInput,
    value: z
      .string()
      .refine((v) => Buffer.byteLength(v, 'utf8') <= MAX_SECRET_BYTES, `a secret's value is at most ${MAX_SECRET_BYTES} bytes`),
  })
  .strict();

function nameOf(params: unknown): string {
  const name = (params as { name: string }).name;
  if (!SECRET_NAME_RE.test(name)) {
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `"${name}" is not a secret's name: letters, digits, "_", "." and "-", starting with a letter (at most 128)`,
    );
  }
  return name;
}

export async function secretRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  // The key file is made (or read) now, at start: a server that cannot read it does not start.
  const book = secretBook(ctx);

  api.put('/secrets/:name', { config: { access: 'admin' } }, async (req): Promise<T.SecretView> => {
    const name = nameOf(req.params);
    const body = parseBody(SetBody, req.body, 'secret set');
    const scope = await ctx.tags.resolveAny(body.scope);
    authorize(req.principal, scope, 'admin');
    await ctx.tags.ensure(scope);
    const set = await book.set(scope, name, body.value, req.principal.name);
    ctx.desired.changed(); // the answers that carry its value
    return set;
  });

  api.get('/secrets', { config: { access: 'viewer' } }, async (req, reply): Promise<T.SecretView[]> => {
    const q = parseQuery(z.object({ scope: TagInput.optional(), ...PageQuery }).strict(), req.query, 'secret ls');
    const scope = q.scope === undefined ? undefined : await ctx.tags.resolveAny(q.scope);
    // With a scope: the secrets in its subtree and those above it that serve it.
    return pageOf(
      (await book.list()).filter(
        (s) => canSee(req.principal, s.scope) && (scope === undefined || isUnder(s.scope, scope) || isUnder(scope, s.scope)),
      ),
      parsePage(q),
      reply,
    );
  });

  api.delete('/secrets/:name', { config: { access: 'admin' } }, async (req): Promise<T.SecretView[]> => {
    const name = nameOf(req.params);
    const q = parseQuery(z.object({ scope: TagInput }).strict(), req.query, 'secret rm');
    const scope = await ctx.tags.resolveAny(q.scope);
    authorize(req.principal, scope, 'admin');
    const removed = await book.remove(scope, name, req.principal.name);
    ctx.desired.changed(); // a nearer secret no longer hides one above it
    return [removed];
  });
}
