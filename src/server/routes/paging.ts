/**
 * Pages of a list: `?limit=N` (at most PAGE_MAX) and `?offset=N` for lists the server builds in
 * memory (hosts, instances, releases), or `?before=ID` for lists newest first by id (history,
 * audit). The body stays a plain array, as before; when more follows, the `x-noops-next`
 * header holds the value to pass back (`offset=` or `before=`), and the CLI follows it, so its
 * output is unchanged. Metric series (routes/metrics.ts), read from the store in key order, page
 * by `?cursor=KEY` and also say `next` in their body, an object.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { NoopsError } from '../../errors/index.js';

/**
 * The largest page. `GET /instances` once answered 79 MB in one body; 1,000 rows of any list
 * here are a few hundred KB, and every list of a small fleet still fits in one page.
 */
export const PAGE_MAX = 1000;

/** The header that says where the next page starts; absent on the last page. */
export const NEXT_HEADER = 'x-noops-next';

/** The query parameters of a paged list, to merge into a route's query schema. */
export const PageQuery = { limit: z.string().optional(), offset: z.string().optional() };

/** A query parameter as a whole number of at least `min`; undefined when absent; NOOPS_E_INPUT otherwise. */
export function whole(raw: string | undefined, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new NoopsError('NOOPS_E_INPUT', `${name} must be a whole number of at least ${min}, not "${raw}"`);
  return n;
}

/** `?limit=` (default and cap PAGE_MAX) and `?offset=` (default 0). */
export function parsePage(q: { limit?: string; offset?: string }): { limit: number; offset: number } {
  return { limit: Math.min(whole(q.limit, 'limit', 1) ?? PAGE_MAX, PAGE_MAX), offset: whole(q.offset, 'offset', 0) ?? 0 };
}

/** One page of `items`; sets the next offset in NEXT_HEADER when more follows. */
export function pageOf<T>(items: readonly T[], page: { limit: number; offset: number }, reply: FastifyReply): T[] {
  const out = items.slice(page.offset, page.offset + page.limit);
  if (page.offset + out.length < items.length) void reply.header(NEXT_HEADER, String(page.offset + out.length));
  return out;
}

/** `?before=ID`: entries older than that id. */
export function parseBefore(raw: string | undefined): number | undefined {
  return whole(raw, 'before', 1);
}
