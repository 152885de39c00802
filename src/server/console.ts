/**
 * Serves the web console at `/`: the page, its compiled modules (dist/web, built from src/ui by
 * `npm run build`), its stylesheet, and preact and htm straight from node_modules. No bundler,
 * no CDN: the page's import map points the bare imports at /ui/vendor, so the console works on
 * a machine with no internet right after `npm ci`.
 *
 * The files are public and hold no data: everything the console shows comes from /api/v1 with
 * the user's token. A strict Content-Security-Policy allows only this server's scripts (and the
 * import map, by its hash), and `Referrer-Policy: no-referrer` keeps a `/?token=` out of any
 * Referer header.
 *
 * @example
 *   await consoleRoutes(app, consoleDirs());
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { NoopsError } from '../errors/index.js';
import { declarePublic } from './gate.js';

export interface ConsoleDirs {
  /** the compiled console: dist/web (holds ui/main.js and the shared modules it imports) */
  webDir: string;
  /** index.html, the stylesheet and the icon: src/ui/assets */
  assetsDir: string;
}

/** The folders of this checkout (the same from src/server under tsx and from dist/server). */
export function consoleDirs(): ConsoleDirs {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return { webDir: join(root, 'dist', 'web'), assetsDir: join(root, 'src', 'ui', 'assets') };
}

/** The only files of node_modules the console serves, by the name the import map gives them:
 * [package, file in it]. */
const VENDOR: Record<string, [string, string]> = {
  'preact.js': ['preact', 'dist/preact.module.js'],
  'preact-hooks.js': ['preact', 'hooks/dist/hooks.module.js'],
  'htm.js': ['htm', 'dist/htm.module.js'],
  // the charts (issue 15): uPlot's ES module and its stylesheet, loaded by the pages that chart
  'uplot.js': ['uplot', 'dist/uPlot.esm.js'],
  'uplot.css': ['uplot', 'dist/uPlot.min.css'],
};

/** The entry module the page loads; its absence means the console was not built. */
const ENTRY = 'ui/main.js';

/** Registers the console's routes on the app (outside /api/v1, so they need no token). */
export async function consoleRoutes(app: FastifyInstance, dirs: ConsoleDirs): Promise<void> {
  const page = readFileSync(join(dirs.assetsDir, 'index.html'), 'utf8');
  const csp = contentSecurityPolicy(page);
  const require = createRequire(import.meta.url);
  const vendor = new Map(
    Object.entries(VENDOR).map(([name, [pkg, file]]) => [name, readFileSync(join(packageDir(require.resolve(pkg), pkg), file), 'utf8')]),
  );

  const secure = (reply: FastifyReply): FastifyReply =>
    reply
      .header('content-security-policy', csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');

  app.get('/', { config: { access: 'public' } }, async (_req, reply) => {
    secure(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8');
    if (!existsSync(join(dirs.webDir, ENTRY))) return reply.status(503).send(NOT_BUILT);
    return reply.send(page);
  });

  app.get('/ui/vendor/:file', { config: { access: 'public' } }, async (req, reply) => {
    const body = vendor.get((req.params as { file: string }).file);
    if (body === undefined) throw new NoopsError('NOOPS_E_NOT_FOUND', `no console file ${req.url}`);
    // preact, htm and uPlot change only with package.json: a day of caching, revalidated after.
    const type = (req.params as { file: string }).file.endsWith('.css') ? 'text/css' : 'text/javascript';
    return secure(reply).header('cache-control', 'public, max-age=86400').type(`${type}; charset=utf-8`).send(body);
  });

  // The console's own files change with every build: the browser revalidates them (ETag).
  const common = {
    cacheControl: false,
    index: false as const,
    dotfiles: 'deny' as const,
    setHeaders: (reply: FastifyReply) => void secure(reply).header('cache-control', 'no-cache'),
  };
  // The console's files are public: they hold no data, and show nothing without a token.
  await app.register(async (files) => {
    declarePublic(files);
    await files.register(fastifyStatic, { ...common, root: dirs.webDir, prefix: '/ui/app/', decorateReply: false });
    await files.register(fastifyStatic, { ...common, root: dirs.assetsDir, prefix: '/ui/assets/', decorateReply: false });
  });
}

/** The folder of an installed package, from any file in it (not every package exports its
 * package.json, so it is found by climbing from the package's entry). */
function packageDir(entry: string, name: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === name) return dir;
  }
  throw new NoopsError('NOOPS_E_INTERNAL', `cannot find the folder of the ${name} package (from ${entry}); run npm ci`);
}

/**
 * Scripts only from this server, plus the page's inline import map by its sha256; no inline
 * styles or event handlers, no framing, API calls only to this origin.
 */
export function contentSecurityPolicy(page: string): string {
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page);
  const hash = map ? ` 'sha256-${createHash('sha256').update(map[1]!).digest('base64')}'` : '';
  return [
    "default-src 'self'",
    `script-src 'self'${hash}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>noops console</title>
<p>The console is not built: run <code>npm run build</code> in the noops checkout, then reload.</p>`;
