/** Request validation at the edge: zod schemas whose failures become NOOPS_E_INPUT. */
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';

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
