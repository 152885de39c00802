/**
 * `POST /releases/import?tag=TAG[&url=URL]`: a release from a package built elsewhere, its bytes
 * the request body (streamed, never held whole) or fetched by the server from an http(s) URL.
 * Answers the release: 201 when it is new, 200 when this very package was the release already.
 */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import { importRelease } from '../../import/import.js';
import type { ServerContext } from '../context.js';
import { authorize } from '../auth.js';
import { parseQuery, TagInput } from './parse.js';
import { releaseView } from './views.js';
import { importDeps } from '../context.js';

/** Packages come as raw bytes, passed through as a stream (the same types `noops runtime add` sends). */
const PACKAGE_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-gzip'];

const ImportQuery = z.object({ tag: TagInput, url: z.string().min(1).max(2048).optional() }).strict();

export async function releaseImportRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  // The runtime routes may have taught this context the same types already (one parser per type).
  const types = PACKAGE_TYPES.filter((t) => !api.hasContentTypeParser(t));
  if (types.length > 0) api.addContentTypeParser(types, (_req, payload, done) => done(null, payload));

  api.post('/releases/import', { config: { access: 'deployer' } }, async (req, reply): Promise<T.ReleaseView> => {
    const q = parseQuery(ImportQuery, req.query, 'release import');
    // a job's tag, or one of its clusters' (the release is the job's)
    const job = await ctx.tags.resolve(q.tag, { level: 'job', truncate: true });
    authorize(req.principal, job, 'deployer');
    const body = req.body as Readable | undefined;
    const upload = body !== undefined && body !== null && typeof body.pipe === 'function';
    if (q.url !== undefined && upload)
      throw new NoopsError('NOOPS_E_INPUT', 'release import: give the package as the body or as ?url=, not both');
    if (q.url === undefined && !upload) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `release import: send the package as the body (content-type ${PACKAGE_TYPES[0]}), or its http(s) URL as ?url=`,
      );
    }
    await ctx.tags.ensure(job);
    const { release, created } = await importRelease(importDeps(ctx), {
      job,
      actor: req.principal.name,
      source: q.url !== undefined ? { url: q.url } : { body: body!, name: 'the uploaded package' },
    });
    reply.status(created ? 201 : 200);
    return releaseView(release, ctx.signer);
  });
}
