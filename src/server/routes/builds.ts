/** Builds: start one (it runs in the background), follow its log. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import type { BuildRow } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import { authorize, canSee } from '../auth.js';
import { parseBody, parseQuery, TagInput } from './parse.js';
import { credentialEnv, parseCredential, splitRepoCredential } from '../../build/index.js';
import { secretName } from '../../release/index.js';
import { secretBook } from '../../secrets/sealed.js';

const BuildBody = z
  .object({
    repo: z
      .string()
      .min(1, 'give the repository (-u)')
      .max(4096)
      .refine((s) => !s.startsWith('-'), 'a repository may not begin with "-" (git would read it as an option)')
      .refine((s) => !/[\0\r\n]/.test(s), 'a repository may not contain control characters'),
    tag: TagInput,
    ref: z
      .string()
      .min(1, 'give the commit (-v)')
      .max(256)
      .refine((s) => !s.startsWith('-'), 'a ref may not begin with "-" (git would read it as an option)')
      .refine((s) => !/[\0\r\n\s]/.test(s), 'a ref may not contain spaces or control characters'),
    /** a secret (at or above the job) holding `user:password` or a token, for an http(s) repository */
    credential: secretName.optional(),
  })
  .strict();

export async function buildRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.post('/builds', { config: { access: 'deployer' } }, async (req, reply): Promise<T.BuildView> => {
    const body = parseBody(BuildBody, req.body, 'build');
    const job = await ctx.tags.resolve(body.tag, { level: 'job', truncate: true });
    authorize(req.principal, job, 'deployer');
    // A password in the URL is used for this clone and never stored or shown: the build keeps `https://user@host/...`.
    const { repo, credential: inUrl } = splitRepoCredential(body.repo);
    let credential = inUrl ?? undefined;
    if (body.credential !== undefined) {
      const values = await secretBook(ctx).require(job, [body.credential], `the build's --credential`);
      credential = parseCredential(values[body.credential]!, repo);
      credentialEnv(repo, credential); // refuses a non-http(s) repository before the build starts
    }
    const row = await ctx.builds.start({ repo, job, ref: body.ref, initiator: req.principal.name, credential });
    reply.status(202);
    return buildView(row);
  });

  api.get('/builds/:id', { config: { access: 'viewer' } }, async (req): Promise<T.BuildProgress> => {
    const q = parseQuery(z.object({ logOffset: z.string().optional() }).strict(), req.query, 'build');
    const id = Number((req.params as { id: string }).id);
    const row = Number.isInteger(id) ? (await ctx.store.listBuilds({ id }))[0] : undefined;
    // Another team's build is not found, as if it did not exist.
    if (!row || !canSee(req.principal, row.job))
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no build #${(req.params as { id: string }).id}`);
    const offset = Math.max(0, Number(q.logOffset ?? 0) || 0);
    // Positions are in the whole log as written: a cut middle reads as a marker, never twice.
    const { text, end } = await ctx.store.readBuildLog(id, offset);
    return { build: buildView(row), log: text, logOffset: end };
  });
}

export function buildView(b: BuildRow): T.BuildView {
  let error: T.BuildView['error'] = null;
  if (b.error) {
    try {
      error = JSON.parse(b.error) as T.BuildView['error'];
    } catch {
      error = { code: 'NOOPS_E_BUILD_FAILED', message: b.error, hint: '' };
    }
  }
  return {
    id: b.id,
    repo: b.repo,
    job: b.job,
    ref: b.ref,
    status: b.status,
    version: b.version,
    initiator: b.initiator,
    startedAt: b.startedAt,
    endedAt: b.endedAt,
    error,
  };
}
