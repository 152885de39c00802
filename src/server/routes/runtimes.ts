/** Runtimes: add one (the tarball is the request body, streamed), list them. */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import type { RuntimeRow } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import { parseBody, parseQuery } from './parse.js';
import { PageQuery, pageOf, parsePage } from './paging.js';

/** Tarballs come as raw bytes; these types are passed through as a stream, never buffered. */
const TARBALL_TYPES = ['application/octet-stream', 'application/gzip', 'application/x-tar', 'application/x-gzip'];

const AddQuery = z
  .object({
    name: z.string().min(1, "give the runtime's name"),
    version: z.string().min(1, "give the runtime's version"),
    platform: z.string().optional(),
    exports: z.string().optional(),
  })
  .strict();
const ExportsJson = z
  .object({
    path: z.array(z.string()).default(['bin']),
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export async function runtimeRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.addContentTypeParser(TARBALL_TYPES, (_req, payload, done) => done(null, payload));

  // Runtimes serve every team: only an admin adds one.
  api.post('/runtimes', { config: { access: 'server-admin' } }, async (req, reply): Promise<T.RuntimeView> => {
    const q = parseBody(AddQuery, req.query, 'runtime add');
    let exports: T.RuntimeExports | undefined;
    if (q.exports !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(q.exports);
      } catch {
        throw new NoopsError('NOOPS_E_INPUT', 'runtime add: exports: expected JSON: {"path": ["bin"], "env": {"JAVA_HOME": "{dir}"}}');
      }
      exports = parseBody(ExportsJson, raw, 'runtime add: exports');
    }
    if (!req.body || typeof (req.body as Readable).pipe !== 'function') {
      throw new NoopsError('NOOPS_E_INPUT', `runtime add: send the tarball as the body, with content-type ${TARBALL_TYPES[0]}`);
    }
    const { row, created } = await ctx.runtimes.add(
      { name: q.name, version: q.version, platform: q.platform, exports, createdBy: req.principal.name },
      req.body as Readable,
    );
    if (created) {
      ctx.desired.changed(); // an answer naming it before it existed left it out
      await ctx.store.audit({
        at: row.createdAt,
        actor: req.principal.name,
        action: 'runtime.add',
        target: `${row.name}@${row.version}`,
        detail: { sha256: row.sha256, size: row.size, platform: row.platform, exports: row.exports },
      });
      reply.status(201);
    }
    return runtimeView(row, hostsWith(ctx, row));
  });

  api.get('/runtimes', { config: { access: 'viewer' } }, async (req, reply): Promise<T.RuntimeView[]> => {
    const q = parseQuery(z.object(PageQuery).strict(), req.query, 'runtimes');
    return pageOf(await ctx.store.listRuntimes(), parsePage(q), reply).map((r) => runtimeView(r, hostsWith(ctx, r)));
  });
}

/** The hosts whose last report lists the runtime installed. */
function hostsWith(ctx: ServerContext, r: RuntimeRow): string[] {
  const key = `${r.name}@${r.version}`;
  return ctx.reports
    .hosts()
    .filter((h) => ctx.reports.lastReport(h)?.runtimes?.installed.includes(key))
    .sort();
}

export function runtimeView(r: RuntimeRow, hosts: string[]): T.RuntimeView {
  return { ...r, hosts };
}
