/**
 * A deployment's cheap reads, worked out from its row (pure): the summary (counts per state, the
 * hosts in flight, the failures; no list of every host) and one page of its hosts, filtered by
 * state or batch. The whole view (`deploymentView`) stays what `GET /deployments/:id` answers.
 */
import { createHash } from 'node:crypto';
import { NoopsError } from '../../errors/index.js';
import {
  type BatchSummary,
  type DeploymentHostView,
  type DeploymentHostsQuery,
  type DeploymentSummary,
  HOST_STATES,
  type HostProgress,
  type HostRolloutState,
  type RolloutProgress,
  type StateCounts,
  SUMMARY_HOSTS_MAX,
} from '../../api/index.js';
import type { DeploymentRow } from '../../store/index.js';

/** The states of a host still being worked on: the ones a person following a deployment waits for. */
const IN_FLIGHT = new Set<HostRolloutState>(['deploying', 'healthy', 'reverting']);

/** What a queued host is counted as (its own entry, with its batch, is built only when it is listed). */
const QUEUED: Pick<HostProgress, 'state' | 'reason'> = { state: 'queued', reason: null };

/** The row's progress, or null for a deployment recorded before batched rollouts. */
function progressOf(d: DeploymentRow): RolloutProgress | null {
  return typeof d.progress.phase === 'string' ? (d.progress as unknown as RolloutProgress) : null;
}

/** A host's progress; a host whose batch has not started has no entry in the store: it is queued. */
function hostProgress(p: RolloutProgress | null, d: DeploymentRow, host: string, batch: number): HostProgress {
  const hp = p?.hosts[host];
  if (hp) return hp;
  // before batched rollouts there is only the result in words
  const result = d.hostResults[host] ?? '';
  const state: HostRolloutState = p
    ? 'queued'
    : result.startsWith('failed')
      ? 'failed'
      : (((HOST_STATES as readonly string[]).includes(result) ? result : 'queued') as HostRolloutState);
  return { state, batch, reason: null, startedAt: null, healthySince: null, endedAt: null, downloaded: null };
}

function hostView(p: RolloutProgress | null, d: DeploymentRow, host: string, batch: number): DeploymentHostView {
  const hp = hostProgress(p, d, host, batch);
  return { host, ...hp, result: d.hostResults[host] ?? hp.state, previous: d.previous[host] ?? null };
}

/** Whether a host failed in this deployment: `failed`, or sent back after failing. */
function failed(hp: Pick<HostProgress, 'state' | 'reason'>): boolean {
  return hp.state === 'failed' || (hp.state === 'reverted' && hp.reason !== null);
}

/** Calls `each` with every host and its batch, in plan order (then any host the plan does not name). */
function forEachHost(p: RolloutProgress | null, d: DeploymentRow, each: (host: string, batch: number) => void): void {
  if (!p) {
    for (const host of d.hosts) each(host, 0);
    return;
  }
  let planned = 0; // hosts of the plan with an entry: fewer entries than that means none is outside the plan
  for (let batch = 0; batch < p.batches.length; batch++) {
    for (const host of p.batches[batch]!) {
      if (p.hosts[host] !== undefined) planned += 1;
      each(host, batch);
    }
  }
  const entries = Object.keys(p.hosts);
  if (entries.length === planned) return;
  const inPlan = new Set(p.batches.flat());
  for (const host of entries) if (!inPlan.has(host)) each(host, p.hosts[host]!.batch);
}

/** Every host with its batch, in plan order (then any host the plan does not name). */
function planOrder(p: RolloutProgress | null, d: DeploymentRow): { host: string; batch: number }[] {
  const out: { host: string; batch: number }[] = [];
  forEachHost(p, d, (host, batch) => out.push({ host, batch }));
  return out;
}

/** The summary a row's current content gives, kept per row object while its content stays (the leader's rows live in memory). */
const summaries = new WeakMap<DeploymentRow, { progress: unknown; key: string; summary: DeploymentSummary }>();

/**
 * The deployment without its hosts' lists (see `DeploymentSummary`): a few kB at any size. Worked
 * out once per change of the row, however many ask.
 *
 * @example deploymentSummary(row).states // { succeeded: 9000, deploying: 1000 }
 */
export function deploymentSummary(d: DeploymentRow): DeploymentSummary {
  const key = `${d.status}\u0000${d.endedAt}\u0000${d.message}`;
  const hit = summaries.get(d);
  if (hit && hit.progress === d.progress && hit.key === key) return hit.summary;
  const summary = summarize(d);
  summaries.set(d, { progress: d.progress, key, summary });
  return summary;
}

function summarize(d: DeploymentRow): DeploymentSummary {
  const p = progressOf(d);
  const states: StateCounts = {};
  const batches: BatchSummary[] = (p?.batches ?? []).map((b) => ({ size: b.length, states: {} }));
  const inFlight: DeploymentHostView[] = [];
  const failures: DeploymentHostView[] = [];
  let failureCount = 0;
  forEachHost(p, d, (host, batch) => {
    // most hosts are only counted: their state without building their entry
    const entry = p?.hosts[host];
    const hp = entry ?? (p ? QUEUED : hostProgress(p, d, host, batch));
    states[hp.state] = (states[hp.state] ?? 0) + 1;
    const b = batches[batch];
    if (b) b.states[hp.state] = (b.states[hp.state] ?? 0) + 1;
    if (IN_FLIGHT.has(hp.state) && inFlight.length < SUMMARY_HOSTS_MAX) inFlight.push(hostView(p, d, host, batch));
    if (failed(hp)) {
      failureCount += 1;
      if (failures.length < SUMMARY_HOSTS_MAX) failures.push(hostView(p, d, host, batch));
    }
  });
  let progress: DeploymentSummary['progress'] = null;
  if (p) {
    const { batches: _plan, hosts: _hosts, ...rest } = p;
    progress = { ...rest, batches };
  }
  const body: Omit<DeploymentSummary, 'index'> = {
    id: d.id,
    tag: d.tag,
    version: d.version,
    kind: d.kind,
    initiator: d.initiator,
    startedAt: d.startedAt,
    endedAt: d.endedAt,
    hostCount: d.hosts.length,
    status: d.status,
    message: d.message,
    conf: d.conf,
    states,
    progress,
    inFlight,
    failures,
    failureCount,
  };
  return { ...body, index: summaryIndex(body) };
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
  const p = progressOf(d);
  const order = planOrder(p, d);
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
    if (states && !states.has(hostProgress(p, d, host, batch).state)) continue;
    if (hosts.length === q.limit) return { hosts, next: hosts[hosts.length - 1]!.host };
    hosts.push(hostView(p, d, host, batch));
  }
  return { hosts };
}
