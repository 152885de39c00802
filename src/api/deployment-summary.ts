/**
 * A deployment's summary worked out from its parts (pure; the server's and the clients'): its head
 * (what it is and where its rollout is) and a tally of its hosts (per state and per batch, the
 * hosts in flight and the failures, 50 of each). The server tallies the hosts of a deployment in
 * memory or in the database (store/deployment-heads.ts) and both give the same summary; a client
 * talking to an older server, which has no summary, tallies the whole deployment it reads
 * (`summaryOfView`).
 */
import {
  type BatchSummary,
  type DeploymentHostView,
  type DeploymentSummary,
  HOST_STATES,
  type StateCounts,
  SUMMARY_HOSTS_MAX,
} from './deployment-types.js';
import type { HostProgress, HostRolloutState, RolloutProgress } from './rollout-types.js';
import type { DeploymentView } from './types.js';

/** What a summary says of a deployment besides its hosts: the deployment's own fields and its progress (whose `hosts` it ignores). */
export type SummaryHead = Pick<
  DeploymentView,
  'id' | 'tag' | 'version' | 'kind' | 'initiator' | 'startedAt' | 'endedAt' | 'hostCount' | 'status' | 'message' | 'conf'
> & { progress: RolloutProgress | null };

/** A deployment's hosts counted: every host per state, each batch's per state (queued included), and the hosts a summary lists. */
export interface HostTally {
  states: StateCounts;
  /** by batch of the plan */
  batches: StateCounts[];
  /** in flight (deploying, healthy or reverting), in plan order, at most SUMMARY_HOSTS_MAX */
  inFlight: DeploymentHostView[];
  /** failed, or reverted after failing, in plan order, at most SUMMARY_HOSTS_MAX */
  failures: DeploymentHostView[];
  failureCount: number;
}

/** The states of a host still being worked on: the ones a person following a deployment waits for. */
export const IN_FLIGHT_STATES: readonly HostRolloutState[] = ['deploying', 'healthy', 'reverting'];
const IN_FLIGHT = new Set<HostRolloutState>(IN_FLIGHT_STATES);

/** Whether a host failed in a deployment: `failed`, or sent back after failing (a reverted host with a reason). */
export function failedHost(hp: Pick<HostProgress, 'state' | 'reason'>): boolean {
  return hp.state === 'failed' || (hp.state === 'reverted' && hp.reason !== null);
}

/** Whether a summary lists a host in `inFlight`. */
export function inFlightHost(hp: Pick<HostProgress, 'state'>): boolean {
  return IN_FLIGHT.has(hp.state);
}

/** Counts in the order of HOST_STATES, whatever order they were counted in: one text for one content (the summary's index hashes it). */
export function orderedCounts(counts: StateCounts): StateCounts {
  const out: StateCounts = {};
  for (const s of HOST_STATES) if ((counts[s] ?? 0) > 0) out[s] = counts[s];
  return out;
}

/**
 * The summary of a deployment from its head and its hosts' tally; `index` hashes the rest (the
 * server's is the same on every server; a client's own only has to change when the summary does).
 *
 * @example summaryOf(head, tally, fnvIndex).states // { succeeded: 9000, deploying: 1000 }
 */
export function summaryOf(
  head: SummaryHead,
  tally: HostTally,
  index: (body: Omit<DeploymentSummary, 'index'>) => number,
): DeploymentSummary {
  let progress: DeploymentSummary['progress'] = null;
  const p = head.progress;
  if (p) {
    const { batches: plan, hosts: _hosts, ...rest } = p;
    const batches: BatchSummary[] = plan.map((b, i) => ({ size: b.length, states: orderedCounts(tally.batches[i] ?? {}) }));
    progress = { ...rest, batches };
  }
  const body: Omit<DeploymentSummary, 'index'> = {
    id: head.id,
    tag: head.tag,
    version: head.version,
    kind: head.kind,
    initiator: head.initiator,
    startedAt: head.startedAt,
    endedAt: head.endedAt,
    hostCount: head.hostCount,
    status: head.status,
    message: head.message,
    conf: head.conf,
    states: orderedCounts(tally.states),
    progress,
    inFlight: tally.inFlight,
    failures: tally.failures,
    failureCount: tally.failureCount,
  };
  return { ...body, index: index(body) };
}

/** What a deployment's hosts are tallied from: its plan and each host's entry, as the whole deployment holds them. */
export interface TallySource {
  hosts: readonly string[];
  /** the plan and each host's entry; null for deployments recorded before batched rollouts */
  progress: RolloutProgress | null;
  hostResults: Readonly<Record<string, string>>;
  previous: Readonly<Record<string, string | null>>;
}

/** What a queued host is counted as (its own entry, with its batch, is built only when it is listed). */
const QUEUED: Pick<HostProgress, 'state' | 'reason'> = { state: 'queued', reason: null };

/** A host's progress; a host whose batch has not started has no entry in the store: it is queued. */
export function hostProgressOf(d: TallySource, host: string, batch: number): HostProgress {
  const p = d.progress;
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

/** One host's part, as a summary lists it and `GET /deployments/:id/hosts` pages it. */
export function hostViewOf(d: TallySource, host: string, batch: number): DeploymentHostView {
  const hp = hostProgressOf(d, host, batch);
  return { host, ...hp, result: d.hostResults[host] ?? hp.state, previous: d.previous[host] ?? null };
}

/** Calls `each` with every host and its batch, in plan order (then any host the plan does not name). */
export function forEachHost(d: TallySource, each: (host: string, batch: number) => void): void {
  const p = d.progress;
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

/** The tally of a whole deployment's hosts (one pass; most hosts are only counted). */
export function tallyOf(d: TallySource): HostTally {
  const p = d.progress;
  const states: StateCounts = {};
  const batches: StateCounts[] = (p?.batches ?? []).map(() => ({}));
  const inFlight: DeploymentHostView[] = [];
  const failures: DeploymentHostView[] = [];
  let failureCount = 0;
  forEachHost(d, (host, batch) => {
    const entry = p?.hosts[host];
    const hp = entry ?? (p ? QUEUED : hostProgressOf(d, host, batch));
    states[hp.state] = (states[hp.state] ?? 0) + 1;
    const b = batches[batch];
    if (b) b[hp.state] = (b[hp.state] ?? 0) + 1;
    if (IN_FLIGHT.has(hp.state) && inFlight.length < SUMMARY_HOSTS_MAX) inFlight.push(hostViewOf(d, host, batch));
    if (failedHost(hp)) {
      failureCount += 1;
      if (failures.length < SUMMARY_HOSTS_MAX) failures.push(hostViewOf(d, host, batch));
    }
  });
  return { states, batches, inFlight, failures, failureCount };
}

/**
 * An index for a summary a client worked out itself (from an older server's whole deployment):
 * 32 bits of FNV-1a over its text, never 0. It changes when the summary does; it is not the
 * server's (which is a SHA-256), and is never sent back to a server.
 */
export function clientIndex(body: Omit<DeploymentSummary, 'index'>): number {
  const text = JSON.stringify(body);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/**
 * The summary of a whole deployment, worked out by a client: what an older server, which
 * refuses `?view=summary` and `/summary`, is followed with.
 *
 * @example summaryOfView(await api.deployment(42)).failureCount
 */
export function summaryOfView(d: DeploymentView): DeploymentSummary {
  return summaryOf(d, tallyOf(d), clientIndex);
}

/** Whether an answer is a summary (a newer server's) or the whole deployment (an older one ignoring `?view=summary`). */
export function isSummary(d: DeploymentView | DeploymentSummary): d is DeploymentSummary {
  return 'states' in d && !('hostResults' in d);
}
