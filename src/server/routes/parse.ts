/** Request validation at the edge: zod schemas whose failures become NOOPS_E_INPUT. */
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';
import { parseDurationText } from '../../api/index.js';

export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  const msg = issue.code === 'unrecognized_keys' ? `unknown field "${issue.keys[0]}"` : issue.message;
  throw new NoopsError('NOOPS_E_INPUT', `${what}: ${path ? `${path}: ` : ''}${msg}`);
}

/**
 * A query string checked like a body: a mistyped parameter (`?tga=`) is a 400 naming it, not
 * silently ignored. Repeated parameters are refused before this (app.ts `parseQuery`).
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(query ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const msg =
    issue.code === 'unrecognized_keys' ? `unknown parameter "${issue.keys[0]}"` : `${issue.path.map(String).join('.')}: ${issue.message}`;
  throw new NoopsError('NOOPS_E_INPUT', `${what}: ${msg}`);
}

/** A host (agent) name: what `noops agent --name` accepts. */
export const HostName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/, 'a host name is 1-63 letters, digits, "." and "-", starting with a letter or digit');
export const Version = z.string().regex(/^[0-9a-f]{7,40}$/, 'a version is a 7 to 40 character lower-case commit hash, e.g. 15b2980f8');
export const TagInput = z.string().min(1, 'give a tag').max(512);

/** `30s`, `500ms`, `2m`, or seconds as a number (at most 7 digits), in ms; each route caps it. */
export const Wait = z.string().transform((text, issue) => {
  const ms = parseDurationText(text, { units: ['ms', 's', 'm'], bare: 's', answer: 'ms', maxDigits: 7 });
  if (ms === undefined) {
    issue.addIssue({ code: 'custom', message: 'a wait is a duration such as 30s, 500ms or 2m' });
    return z.NEVER;
  }
  return ms;
});

/**
 * The parameters of a Consul-style blocking query, to merge into a route's query schema:
 * `index` (the number a previous answer gave) and `wait`. Naming's and a deployment summary's.
 */
export const BlockingQuery = {
  index: z
    .string()
    .regex(/^\d{1,16}$/, 'an index is the number a previous answer gave')
    .transform(Number)
    .optional(),
  wait: Wait.optional(),
};
