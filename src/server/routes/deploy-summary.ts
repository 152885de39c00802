/**
 * A deployment's cheap reads, worked out from its row (pure): the summary (counts per state, the
 * hosts in flight, the failures; no list of every host) and one page of its hosts, filtered by
 * state or batch. The whole view (`deploymentView`) stays what `GET /deployments/:id` answers.
 */
import { createHash } from 'node:crypto';
import { NoopsError } from '../../errors/index.js';
import {
  type DeploymentHostView,
  type DeploymentHostsQuery,
  type DeploymentSummary,
  forEachHost,
  type HostTally,
  hostProgressOf,
  hostViewOf,
  type RolloutProgress,
  type SummaryHead,
  summaryOf,
  type TallySource,
  tallyOf,
} from '../../api/index.js';
import type { DeploymentRow } from '../../store/index.js';

/** The row's progress, or null for a deployment recorded before batched rollouts. */
function progressOf(d: DeploymentRow): RolloutProgress | null {
  return typeof d.progress.phase === 'string' ? (d.progress as unknown as RolloutProgress) : null;
}

/** A row as the summary's pure parts read it. */
function sourceOf(d: DeploymentRow): TallySource & SummaryHead {
  return { ...d, hostCount: d.hosts.length, progress: progressOf(d) };
}

/** Every host with its batch, in plan order (then any host the plan does not name). */
function planOrder(d: TallySource): { host: string; batch: number }[] {
  const out: { host: string; batch: number }[] = [];
  forEachHost(d, (host, batch) => out.push({ host, batch }));
  return out;
}

/** The summary a row's current content gives, kept per row object while its content stays (the leader's rows live in memory). */
const summaries = new WeakMap<DeploymentRow, { progress: unknown; key: string; summary: DeploymentSummary }>();

/**
 * The deployment without its hosts' lists (see `DeploymentSummary`): a few kB at any size. Worked
 * out once per change of the row, however many ask.
 *
 * @example deploymentSummary(row).states // { deploying: 1000, succeeded: 9000 }
 */
export function deploymentSummary(d: DeploymentRow): DeploymentSummary {
  const key = `${d.status}\u0000${d.endedAt}\u0000${d.message}`;
  const hit = summaries.get(d);
  if (hit && hit.progress === d.progress && hit.key === key) return hit.summary;
  const source = sourceOf(d);
  const summary = summaryOf(source, tallyOf(source), summaryIndex);
  summaries.set(d, { progress: d.progress, key, summary });
  return summary;
}

/**
 * The summary of a deployment read as its head and its hosts' tally (the store's
 * `deploymentHeads`, without reading every host): the same summary, index included, as
 * `deploymentSummary` gives for the whole row.
 */
export function summaryOfHead(head: SummaryHead, tally: HostTally): DeploymentSummary {
  return summaryOf(head, tally, summaryIndex);
}

/** The index of a summary: 48 bits of the hash of its content, never 0 (as naming's answers). */
function summaryIndex(body: Omit<DeploymentSummary, 'index'>): number {
  return createHash('sha256').update(JSON.stringify(body)).digest().readUIntBE(0, 6) || 1;
}

/**
 * One page of a deployment's hosts in plan order, filtered by state and batch; `next` is the
 * last host's name when more follow (pass it back as `after`).
 *
 * @throws NoopsError NOOPS_E_INPUT when `after` names no host of the deployment, or `batch` no batch of it
 */
export function hostPage(d: DeploymentRow, q: DeploymentHostsQuery & { limit: number }): { hosts: DeploymentHostView[]; next?: string } {
  const source = sourceOf(d);
  const p = source.progress;
  const order = planOrder(source);
  const batchCount = p ? p.batches.length : 1;
  if (q.batch !== undefined && q.batch >= batchCount) {
    throw new NoopsError('NOOPS_E_INPUT', `deployment #${d.id} has ${batchCount} batch(es), numbered from 0: there is no batch ${q.batch}`);
  }
  let start = 0;
  if (q.after !== undefined) {
    const at = order.findIndex((o) => o.host === q.after);
    if (at < 0) throw new NoopsError('NOOPS_E_INPUT', `after: deployment #${d.id} has no host "${q.after}"`);
    start = at + 1;
  }
  const states = q.states && new Set(q.states);
  const hosts: DeploymentHostView[] = [];
  for (let i = start; i < order.length; i++) {
    const { host, batch } = order[i]!;
    if (q.batch !== undefined && batch !== q.batch) continue;
    if (states && !states.has(hostProgressOf(source, host, batch).state)) continue;
    if (hosts.length === q.limit) return { hosts, next: hosts[hosts.length - 1]!.host };
    hosts.push(hostViewOf(source, host, batch));
  }
  return { hosts };
}
