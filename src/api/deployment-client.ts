/**
 * The cheap reads of a deployment (deployment-types.ts): its summary, once, waiting for its next
 * change, or as a stream; and its hosts, a page at a time.
 *
 * @example
 *   let s = await deploymentSummary(client, 42);
 *   while (s.status === 'running') s = await deploymentSummary(client, 42, { index: s.index, waitMs: 30_000 });
 *   const failed = await deploymentHosts(client, 42, { states: ['failed'] });
 */
import { type ApiClient, decodeError, type RequestOptions, safeJson } from './client.js';
import type { DeploymentHostsQuery, DeploymentHostView, DeploymentSummary, DeploymentSummaryEvent } from './deployment-types.js';
import type { RolloutLogLine } from './rollout-types.js';
import { queryString } from './query.js';
import { readEvents } from './sse.js';

/** Options of a blocking summary: wait until its index differs from `index`. */
export interface SummaryOptions {
  index?: number;
  waitMs?: number;
  signal?: AbortSignal;
}

/** `GET /deployments/:id/summary`: the deployment without its hosts' lists; with `index`, once it changed (or at the wait). */
export function deploymentSummary(client: ApiClient, id: number, opts: SummaryOptions = {}): Promise<DeploymentSummary> {
  const query = queryString({ index: opts.index, wait: opts.waitMs === undefined ? undefined : `${Math.ceil(opts.waitMs)}ms` });
  // a blocking query is answered only at a change or at its wait: no answer timeout
  return client.request<DeploymentSummary>('GET', `/deployments/${id}/summary${query}`, undefined, {
    signal: opts.signal,
    ...(opts.index !== undefined && { timeoutMs: 0 }),
  });
}

/** `GET /deployments/:id/hosts`: the hosts (filtered), every page of them, in plan order. */
export async function deploymentHosts(client: ApiClient, id: number, q: DeploymentHostsQuery = {}): Promise<DeploymentHostView[]> {
  const out: DeploymentHostView[] = [];
  let after = q.after;
  for (;;) {
    const query = queryString({ state: q.states?.join(','), batch: q.batch, after, limit: q.limit });
    const res = await client.raw('GET', `/deployments/${id}/hosts${query}`);
    const text = await res.text();
    if (!res.ok) throw decodeError(res.status, safeJson(text));
    const page = JSON.parse(text) as DeploymentHostView[];
    out.push(...page);
    const next = res.headers.get('x-noops-next');
    if (next === null || page.length === 0 || q.limit !== undefined) return out; // a limit asks for one page
    after = next;
  }
}

/**
 * `GET /deployments/:id/events?view=summary`: the summary first and after every change, and the
 * log's lines; the iteration ends when the deployment has, or when the connection drops.
 */
export async function* deploymentSummaryEvents(
  client: ApiClient,
  id: number,
  opts: RequestOptions = {},
): AsyncGenerator<DeploymentSummaryEvent> {
  const res = await client.raw('GET', `/deployments/${id}/events?view=summary`, undefined, opts);
  if (!res.ok) throw decodeError(res.status, safeJson(await res.text()));
  if (!res.body) return;
  for await (const e of readEvents(res.body as ReadableStream<Uint8Array>)) {
    if (e.event === 'summary') yield { type: 'summary', summary: e.data as DeploymentSummary };
    else if (e.event === 'log') yield { type: 'log', line: e.data as RolloutLogLine };
  }
}
