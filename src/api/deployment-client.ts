/**
 * The cheap reads of a deployment (deployment-types.ts): its summary, once, waiting for its next
 * change, or as a stream; and its hosts, a page at a time. Against an older server, which refuses
 * `/summary` and `?view=summary` (404 or 400), the summaries fall back to the whole deployment,
 * summarized here (`summaryOfView`): what that server can answer, at its old cost.
 *
 * @example
 *   let s = await deploymentSummary(client, 42);
 *   while (s.status === 'running') s = await deploymentSummary(client, 42, { index: s.index, waitMs: 30_000 });
 *   const failed = await deploymentHosts(client, 42, { states: ['failed'] });
 */
import { NoopsError } from '../errors/index.js';
import { type ApiClient, decodeError, type RequestOptions, safeJson } from './client.js';
import { forEachHost, hostViewOf, isSummary, summaryOfView } from './deployment-summary.js';
import type { DeploymentHostsQuery, DeploymentHostView, DeploymentSummary, DeploymentSummaryEvent } from './deployment-types.js';
import type { DeploymentStatusView, RolloutLogLine } from './rollout-types.js';
import { queryString } from './query.js';
import { readEvents } from './sse.js';
import type { DeploymentAction, DeploymentView, DeployRequest, RollbackRequest, UndeployRequest } from './types.js';

/** Against an older server, a blocking summary is the whole deployment read again this often until it changes. */
export const FALLBACK_POLL_MS = 1000;

/**
 * Whether an error is a server refusing a summary it does not know (a server older than the
 * summaries): no such route (404), or an unknown parameter `view` (400).
 */
export function refusesSummary(err: unknown): boolean {
  if (!(err instanceof NoopsError)) return false;
  if (err.code === 'NOOPS_E_NOT_FOUND') return err.message.startsWith('no route ');
  if (err.code === 'NOOPS_E_INPUT') return err.message.includes('"view"');
  // an answer without our error's body (a proxy's page)
  return err.code === 'NOOPS_E_INTERNAL' && /^the server answered HTTP (404|400)$/.test(err.message);
}

/** Where each kind of deployment is started, and what it takes. */
interface Starts {
  deploy: DeployRequest;
  rollback: RollbackRequest;
  undeploy: UndeployRequest;
}
const START_PATHS: Record<keyof Starts, string> = { deploy: '/deployments', rollback: '/rollbacks', undeploy: '/undeploys' };

/**
 * Starts a deploy, rollback or undeploy and answers it as its summary (`?view=summary`: a few kB,
 * not the whole deployment, about 3 MB at 10,000 hosts). A server older than the parameter ignores
 * it and answers the whole deployment: summarized here (the deployment is started once either way).
 *
 * @example const s = await startSummary(client, 'deploy', { tag, version }); // s.id, s.index, s.states
 */
export async function startSummary<K extends keyof Starts>(client: ApiClient, kind: K, req: Starts[K]): Promise<DeploymentSummary> {
  const d = await client.request<DeploymentView | DeploymentSummary>('POST', `${START_PATHS[kind]}?view=summary`, req);
  return isSummary(d) ? d : summaryOfView(d);
}

/** Options of a blocking summary: wait until its index differs from `index`. */
export interface SummaryOptions {
  index?: number;
  waitMs?: number;
  signal?: AbortSignal;
}

/**
 * `GET /deployments/:id/summary`: the deployment without its hosts' lists; with `index`, once it
 * changed (or at the wait). An older server's whole deployment, summarized, when it has no summary.
 */
export async function deploymentSummary(client: ApiClient, id: number, opts: SummaryOptions = {}): Promise<DeploymentSummary> {
  const query = queryString({ index: opts.index, wait: opts.waitMs === undefined ? undefined : `${Math.ceil(opts.waitMs)}ms` });
  try {
    // a blocking query is answered only at a change or at its wait: no answer timeout
    return await client.request<DeploymentSummary>('GET', `/deployments/${id}/summary${query}`, undefined, {
      signal: opts.signal,
      ...(opts.index !== undefined && { timeoutMs: 0 }),
    });
  } catch (err) {
    if (!refusesSummary(err)) throw err;
  }
  // an older server: the whole deployment, read again until its summary changes (it cannot block)
  const until = Date.now() + (opts.waitMs ?? 30_000);
  for (;;) {
    const s = summaryOfView(await client.request<DeploymentView>('GET', `/deployments/${id}`, undefined, { signal: opts.signal }));
    if (opts.index === undefined || s.index !== opts.index || s.status !== 'running' || Date.now() >= until) return s;
    await new Promise((r) => setTimeout(r, Math.min(FALLBACK_POLL_MS, Math.max(0, until - Date.now()))));
    if (opts.signal?.aborted) return s;
  }
}

/**
 * `GET /history?view=summary`: a cluster's deployments, newest first, each as its summary (a few kB
 * at any size). An older server's whole deployments, summarized, when it has no summaries.
 */
export async function historySummaries(
  client: ApiClient,
  tag: string,
  q: { limit?: number; status?: DeploymentStatusView } = {},
): Promise<DeploymentSummary[]> {
  try {
    return await client.request<DeploymentSummary[]>(
      'GET',
      `/history${queryString({ tag, status: q.status, limit: q.limit, view: 'summary' })}`,
    );
  } catch (err) {
    if (!refusesSummary(err)) throw err;
  }
  return (await client.history(tag, q.limit, q.status)).map(summaryOfView);
}

/**
 * `POST /deployments/:id/ACTION?view=summary`: pause, resume, promote or abort a running deployment;
 * answers its summary once the command took effect. An older server answers the whole deployment
 * (it does not read `view`): summarized here.
 */
export async function deploymentActionSummary(client: ApiClient, id: number, action: DeploymentAction): Promise<DeploymentSummary> {
  let d: DeploymentView | DeploymentSummary;
  try {
    d = await client.request<DeploymentView | DeploymentSummary>('POST', `/deployments/${id}/${action}?view=summary`);
  } catch (err) {
    if (!refusesSummary(err)) throw err;
    d = await client.deploymentAction(id, action); // refused before it acted: sent once more, without the view
  }
  return isSummary(d) ? d : summaryOfView(d);
}

/** `GET /deployments/:id/hosts`: the hosts (filtered), every page of them, in plan order. */
export async function deploymentHosts(client: ApiClient, id: number, q: DeploymentHostsQuery = {}): Promise<DeploymentHostView[]> {
  const out: DeploymentHostView[] = [];
  let after = q.after;
  for (;;) {
    const query = queryString({ state: q.states?.join(','), batch: q.batch, after, limit: q.limit });
    const res = await client.raw('GET', `/deployments/${id}/hosts${query}`);
    const text = await res.text();
    if (!res.ok) {
      const err = decodeError(res.status, safeJson(text));
      if (out.length === 0 && refusesSummary(err)) return hostsOfWhole(await client.deployment(id), q);
      throw err;
    }
    const page = JSON.parse(text) as DeploymentHostView[];
    out.push(...page);
    const next = res.headers.get('x-noops-next');
    if (next === null || page.length === 0 || q.limit !== undefined) return out; // a limit asks for one page
    after = next;
  }
}

/** The hosts `GET /deployments/:id/hosts` would answer, from the whole deployment (an older server's). */
function hostsOfWhole(d: DeploymentView, q: DeploymentHostsQuery): DeploymentHostView[] {
  const all: DeploymentHostView[] = [];
  forEachHost(d, (host, batch) => all.push(hostViewOf(d, host, batch)));
  const states = q.states && new Set<string>(q.states);
  const start = q.after === undefined ? 0 : all.findIndex((h) => h.host === q.after) + 1;
  const kept = all.slice(start).filter((h) => (q.batch === undefined || h.batch === q.batch) && (!states || states.has(h.state)));
  return q.limit === undefined ? kept : kept.slice(0, q.limit);
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
  let res = await client.raw('GET', `/deployments/${id}/events?view=summary`, undefined, opts);
  if (!res.ok) {
    const err = decodeError(res.status, safeJson(await res.text()));
    if (!refusesSummary(err)) throw err;
    // an older server: its stream of the whole deployment, each summarized here
    res = await client.raw('GET', `/deployments/${id}/events`, undefined, opts);
    if (!res.ok) throw decodeError(res.status, safeJson(await res.text()));
  }
  if (!res.body) return;
  for await (const e of readEvents(res.body as ReadableStream<Uint8Array>)) {
    if (e.event === 'summary') yield { type: 'summary', summary: e.data as DeploymentSummary };
    else if (e.event === 'deployment') yield { type: 'summary', summary: summaryOfView(e.data as DeploymentView) };
    else if (e.event === 'log') yield { type: 'log', line: e.data as RolloutLogLine };
  }
}
