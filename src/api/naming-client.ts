/**
 * The API calls of naming: resolve a selector (once, or waiting for the next change) and read
 * who depends on whom.
 *
 * @example
 *   const answer = await resolveNames(client, 'cop=acme,service=shop');
 *   const next = await resolveNames(client, 'cop=acme,service=shop', { index: answer.index, waitMs: 30_000 });
 */
import type { ApiClient } from './client.js';
import type { DepsView, NamingAnswer } from './naming-types.js';
import { queryString } from './query.js';

/** Options of a blocking query: wait until the answer's index differs from `index`. */
export interface ResolveOptions {
  index?: number;
  waitMs?: number;
  signal?: AbortSignal;
}

/** `GET /naming/SELECTOR`: the healthy endpoints under a selector (or a tag). */
export function resolveNames(client: ApiClient, selector: string, opts: ResolveOptions = {}): Promise<NamingAnswer> {
  const query = queryString({ index: opts.index, wait: opts.waitMs === undefined ? undefined : `${Math.ceil(opts.waitMs / 1000)}s` });
  // a blocking query is answered only at a change or at its wait: no answer timeout
  return client.request<NamingAnswer>('GET', `/naming/${encodeURIComponent(selector)}${query}`, undefined, {
    signal: opts.signal,
    ...(opts.index !== undefined && { timeoutMs: 0 }),
  });
}

/** `GET /deps?selector=`: what the selected services use and who uses them. */
export function readDeps(client: ApiClient, selector: string): Promise<DepsView> {
  return client.request<DepsView>('GET', `/deps?selector=${encodeURIComponent(selector)}`);
}
