/**
 * Deployments read without their hosts' lists (issue 19): the summaries `GET /history?view=summary`,
 * `GET /deployments/:id/summary` and `POST /deployments/:id/ACTION?view=summary` answer. A running
 * deployment this server steps is in memory; any other is read as its head and its hosts counted
 * by the database (store/deployment-heads.ts), never every host's row: a few kB at 10,000 hosts
 * where the whole deployment is about 3 MB. Both give the same summary, index included.
 */
import {
  type DeploymentHostView,
  type DeploymentSummary,
  failedHost,
  type HostProgress,
  type HostTally,
  IN_FLIGHT_STATES,
  inFlightHost,
  type RolloutProgress,
  type StateCounts,
  SUMMARY_HOSTS_MAX,
} from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { DeploymentHeadFilter, DeploymentHeadRow, DeploymentHostCount, DeploymentHostEntry } from '../../store/index.js';
import { canSee } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { deploymentSummary, summaryOfHead } from './deploy-summary.js';

/** A deployment by the id in a URL, its head only: the running one in memory, else the store's. Not found when `who` may not see it. */
export async function deploymentHeadOf(ctx: ServerContext, raw: string, who: Principal): Promise<{ id: number; tag: string }> {
  const id = Number(raw);
  const row = Number.isInteger(id) ? (ctx.rollout.current(id) ?? (await ctx.store.listDeploymentHeads({ ids: [id] }))[0]) : undefined;
  if (!row || !canSee(who, row.tag)) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${raw}`);
  return row;
}

/** The summary of one deployment by the id in a URL (see the file's comment). Not found when `who` may not see it. */
export async function summaryById(ctx: ServerContext, raw: string, who: Principal): Promise<DeploymentSummary> {
  const id = Number(raw);
  const mem = Number.isInteger(id) ? ctx.rollout.current(id) : undefined;
  if (mem) {
    if (!canSee(who, mem.tag)) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${raw}`);
    return deploymentSummary(mem);
  }
  const [head] = Number.isInteger(id) ? await ctx.store.listDeploymentHeads({ ids: [id] }) : [];
  if (!head || !canSee(who, head.tag)) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${raw}`);
  return (await summariesOf(ctx, [head]))[0]!;
}

/** The summaries of the deployments a filter names, newest first. */
export async function listSummaries(ctx: ServerContext, filter: DeploymentHeadFilter): Promise<DeploymentSummary[]> {
  return summariesOf(ctx, await ctx.store.listDeploymentHeads(filter));
}

/** A head's progress when it is the plan without its hosts' entries (0026 on); undefined for older rows (read whole). */
function planOf(head: DeploymentHeadRow): RolloutProgress | undefined {
  const p = head.progress;
  if (typeof p.phase !== 'string') return undefined; // recorded before batched rollouts
  const hosts = p.hosts as Record<string, unknown> | undefined;
  if (hosts) for (const _ in hosts) return undefined; // written before 0026: its hosts' entries are in the row
  return p as unknown as RolloutProgress;
}

/**
 * Summaries of ended deployments kept per store, the least recently read dropped first: an ended
 * deployment never changes, so two pages of `noops history` read again cost a lookup (at most a few
 * tens of kB each, with their 50 + 50 hosts listed).
 */
export const ENDED_SUMMARIES_KEPT = 200;
const endedSummaries = new WeakMap<object, Map<number, DeploymentSummary>>();

/** The kept summaries of ended deployments of this server's store. */
function endedOf(ctx: ServerContext): Map<number, DeploymentSummary> {
  let kept = endedSummaries.get(ctx.store);
  if (!kept) endedSummaries.set(ctx.store, (kept = new Map()));
  return kept;
}

/** Keeps an ended deployment's summary (a running one changes: never kept). */
function keepEnded(ctx: ServerContext, s: DeploymentSummary): void {
  if (s.status === 'running') return;
  const kept = endedOf(ctx);
  kept.delete(s.id);
  kept.set(s.id, s);
  if (kept.size > ENDED_SUMMARIES_KEPT) kept.delete(kept.keys().next().value!);
}

/** The summaries of these heads, in their order: from memory, kept (ended), from their counts, or (older rows) read whole. */
async function summariesOf(ctx: ServerContext, heads: readonly DeploymentHeadRow[]): Promise<DeploymentSummary[]> {
  const out = new Map<number, DeploymentSummary>();
  const counted: { head: DeploymentHeadRow; plan: RolloutProgress }[] = [];
  const kept = endedOf(ctx);
  for (const head of heads) {
    const mem = ctx.rollout.current(head.id);
    const plan = planOf(head);
    const done = head.status === 'running' ? undefined : kept.get(head.id);
    if (mem) out.set(head.id, deploymentSummary(mem));
    else if (done) {
      kept.delete(head.id); // the most recently read is dropped last
      kept.set(head.id, done);
      out.set(head.id, done);
    } else if (plan) counted.push({ head, plan });
    else {
      const row = await ctx.store.getDeployment(head.id);
      if (!row) continue;
      const s = deploymentSummary(row);
      out.set(head.id, s);
      keepEnded(ctx, s);
    }
  }
  const counts = new Map<number, DeploymentHostCount[]>();
  for (const c of counted.length === 0 ? [] : await ctx.store.countDeploymentHosts(counted.map((c) => c.head.id))) {
    let list = counts.get(c.deploymentId);
    if (!list) counts.set(c.deploymentId, (list = []));
    list.push(c);
  }
  for (const { head, plan } of counted) {
    const tally = await tallyOfHead(ctx, head.id, plan, counts.get(head.id) ?? []);
    const s = summaryOfHead({ ...head, progress: plan }, tally);
    out.set(head.id, s);
    keepEnded(ctx, s);
  }
  return heads.flatMap((h) => out.get(h.id) ?? []);
}

/**
 * A deployment's tally from its hosts' counts (hosts without a row are queued), and the rows of
 * the hosts its summary lists: those of the first batches that hold SUMMARY_HOSTS_MAX of them,
 * in plan order.
 */
async function tallyOfHead(
  ctx: ServerContext,
  id: number,
  plan: RolloutProgress,
  counts: readonly DeploymentHostCount[],
): Promise<HostTally> {
  const states: StateCounts = {};
  const batches: StateCounts[] = plan.batches.map(() => ({}));
  const rowsIn = plan.batches.map(() => 0);
  const listedIn = plan.batches.map(() => ({ inFlight: 0, failed: 0 }));
  const add = (to: StateCounts, state: HostProgress['state'], n: number): void => {
    to[state] = (to[state] ?? 0) + n;
  };
  let failureCount = 0;
  let outside = false; // a host whose batch is not in the plan (listed last)
  for (const c of counts) {
    const state = c.state as HostProgress['state'];
    add(states, state, c.count);
    if (c.failed) failureCount += c.count;
    const b = batches[c.batch];
    if (!b) {
      outside ||= c.failed || inFlightHost({ state });
      continue;
    }
    add(b, state, c.count);
    rowsIn[c.batch]! += c.count;
    if (inFlightHost({ state })) listedIn[c.batch]!.inFlight += c.count;
    if (c.failed) listedIn[c.batch]!.failed += c.count;
  }
  plan.batches.forEach((hosts, i) => {
    const queued = hosts.length - rowsIn[i]!;
    if (queued > 0) {
      add(batches[i]!, 'queued', queued);
      add(states, 'queued', queued);
    }
  });
  // the batches whose listed hosts come first, until each list is full
  const wanted = new Set<number>();
  let inFlight = 0;
  let failed = 0;
  listedIn.forEach((n, i) => {
    if ((n.inFlight > 0 && inFlight < SUMMARY_HOSTS_MAX) || (n.failed > 0 && failed < SUMMARY_HOSTS_MAX)) wanted.add(i);
    inFlight += n.inFlight;
    failed += n.failed;
  });
  let entries: DeploymentHostEntry[] = [];
  if (wanted.size > 0 || outside) {
    const all = outside ? [...new Set([...wanted, ...counts.map((c) => c.batch)])] : [...wanted];
    entries = await ctx.store.deploymentHostsWhere(id, { batches: all, states: IN_FLIGHT_STATES });
  }
  const views = inPlanOrder(plan, entries);
  return {
    states,
    batches,
    inFlight: views.filter((v) => inFlightHost(v)).slice(0, SUMMARY_HOSTS_MAX),
    failures: views.filter((v) => failedHost(v)).slice(0, SUMMARY_HOSTS_MAX),
    failureCount,
  };
}

/** Hosts' entries as a summary lists them, in plan order (batch by batch; hosts the plan does not name last). */
function inPlanOrder(plan: RolloutProgress, entries: readonly DeploymentHostEntry[]): DeploymentHostView[] {
  if (entries.length === 0) return [];
  const position = new Map<string, number>();
  let at = 0;
  const batches = new Set(entries.map((e) => Number(e.progress.batch)));
  plan.batches.forEach((hosts, i) => {
    if (batches.has(i)) for (const h of hosts) position.set(h, at++);
    else at += hosts.length;
  });
  const pos = (host: string): number => position.get(host) ?? Number.MAX_SAFE_INTEGER;
  return [...entries]
    .sort((a, b) => pos(a.host) - pos(b.host) || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    .map((e) => ({ host: e.host, ...(e.progress as unknown as HostProgress), result: e.result, previous: e.previous }));
}
