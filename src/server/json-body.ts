/**
 * JSON request bodies: Fastify's own parser (its guards against `__proto__` and `constructor`
 * keys kept), and no NUL character in any string. PostgreSQL's text cannot hold U+0000: one
 * agent's report with a NUL in a process's error made the batched write of every host's rows fail,
 * kept and tried again with the next flush, for good; and its JSON, stored, could no longer be
 * read by the upsert (`#>>` refuses `\u0000`), which stopped every report from being shared.
 *
 * Agents' bodies carry text that processes and scripts wrote: there each NUL becomes U+FFFD (a
 * report refused would leave the host looking down). Every other route refuses the body with
 * NOOPS_E_INPUT: a person's input is not changed behind their back.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NoopsError } from '../errors/index.js';

/** Routes whose bodies agents write from what runs on their hosts (reports, a command's output): their NULs are replaced. */
export const NUL_REPLACED_ROUTES: ReadonlySet<string> = new Set([
  '/api/v1/agent/report',
  '/api/v1/agent/balancers',
  '/api/v1/agent/commands/:id',
]);

/** `\u0000` as JSON writes it: an escape not itself escaped (`\\u0000` is a backslash, then text). */
const NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/;

/** Replaces Fastify's JSON parser with the same parser and the rule above; refuses a NUL in the URL too. */
export function installJsonBodies(app: FastifyInstance): void {
  // %00 in a path or query string decodes to a NUL: PostgreSQL then failed the read (a 500)
  app.addHook('onRequest', async (req) => {
    if (req.url.includes('%00'))
      throw new NoopsError('NOOPS_E_INPUT', 'the URL holds a NUL character (%00), which noops does not take', {
        hint: 'remove %00 from the path and the query string',
      });
  });
  // the server's own settings for `__proto__` and `constructor` keys (Fastify's defaults: refused)
  const parse = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req: FastifyRequest, body: string | Buffer, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    // the common case costs one scan of the body for a backslash-u-0-0-0-0
    if (!text.includes('\\u0000') || !NUL_ESCAPE.test(text)) return parse(req, text, done);
    if (!NUL_REPLACED_ROUTES.has(req.routeOptions.url ?? '')) {
      const err = new NoopsError('NOOPS_E_INPUT', 'the body holds a NUL character (\\u0000), which noops does not store', {
        hint: 'remove the NUL characters from the strings you send',
      });
      return done(err, undefined);
    }
    parse(req, text, (err, value) => (err ? done(err, undefined) : done(null, withoutNul(value))));
  });
}

/** `value` with every NUL of every string (keys too) replaced by U+FFFD. */
export function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
  if (Array.isArray(value)) return value.map(withoutNul);
  // fromEntries defines each key as an own property (a `__proto__` key sets no prototype)
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k), withoutNul(v)]));
  return value;
}
