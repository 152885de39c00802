/**
 * One measured deployment: start a deploy (or rollback) through the API as `noops deploy` does,
 * wait until every agent received the new desired state and reported the release up, and until
 * the server ended the deployment; read the server's CPU and bytes around it.
 */
import { type ApiClient, deploymentSummary, startSummary } from '../../src/api/index.js';
import type { DeploymentSummary, DeploymentView } from '../../src/api/index.js';
import { NoopsError } from '../../src/errors/index.js';
import { markPhase, monoUs } from '../lib/phases.js';
import { procUsage, usageBetween } from '../lib/procstat.js';
import { percentile, round } from '../lib/stats.js';

/**
 * How long each wait for the deployment's next change lasts. It is followed as `noops deploy`
 * follows it since issue 19: by its summary (a few kB), here blocking until it changes
 * (`?index=N&wait=`), not by the whole deployment every 250 ms (3 MB at 10,000 hosts).
 * NOOPS_BENCH_FLEET_FOLLOW=full follows it the old way, to compare.
 */
const FOLLOW_WAIT_MS = 10_000;
/** The old way's period: what `noops deploy` polled before it followed summaries. */
const FOLLOW_FULL_MS = 250;

/** What waits for the agents: a `Fleet.watch`, or the same over real agents. */
export type Watch = (
  tag: string,
  version: string,
  timeoutMs: number,
) => Promise<() => Promise<{ received: number[]; up: number[]; downloadBytes?: number; tickets?: { signed: number; keyed: number } }>>;

export interface DeployInput {
  api: ApiClient;
  serverPid: number;
  /** the processes that run the agents, whose CPU is measured too */
  agentPids: () => number[];
  watch: Watch;
  tag: string;
  version: string;
  kind: 'deploy' | 'rollback';
  /** batch size as `noops deploy --batch` takes it ('10%'); undefined: the server's default */
  batch?: string;
  timeoutMs: number;
}

export interface DeployFigures {
  kind: 'deploy' | 'rollback';
  version: string;
  hosts: number;
  status: string;
  /** how the server rolled it out: the batch asked for, or 'all at once' when it has no batches */
  batches: string;
  /** ms from the request to the API's answer (the deployment started) */
  apiMs: number;
  /** ms from the request until half / all of the agents received the new desired state
   * (null for real agents, which do not tell) */
  receivedP50Ms: number | null;
  receivedAllMs: number | null;
  /** ms from the request until every agent reported the release up */
  upAllMs: number;
  /** ms from the request until the server ended the deployment */
  doneMs: number;
  /** package bytes the agents downloaded (simulated fleet only) */
  downloadBytes: number | null;
  /** tickets the agents' peer servers took, by a signature check and keyed (simulated fleet only; absent before session 28) */
  tickets?: { signed: number; keyed: number } | null;
  /** bytes the server wrote (sockets and database) during the deployment */
  serverWrittenBytes: number;
  serverCpuMs: number;
  /** the server's CPU time over the deployment's wall time, in cores */
  serverCores: number;
  /** the agents' processes' CPU time (ms) and in cores over the same time */
  agentsCpuMs: number;
  agentsCores: number;
}

/** Deploys and measures; throws when the deployment does not succeed. */
export async function measureDeploy(input: DeployInput): Promise<DeployFigures> {
  const { api, tag, version } = input;
  const arrived = await input.watch(tag, version, input.timeoutMs);
  const u0 = procUsage(input.serverPid)!;
  const a0 = agentsCpu(input.agentPids());
  const t0 = Date.now();
  const m0 = monoUs();
  const { view, batches } = await start(input);
  const apiMs = Date.now() - t0;
  markPhase(`${input.kind} ${version} to ${input.tag.split('.').at(-1)}: the API call`, m0);
  const agents = await arrived();
  markPhase(`${input.kind} ${version} to ${input.tag.split('.').at(-1)}: until every agent has it up`, m0);
  const d = await followToEnd(api, view, Date.now() + input.timeoutMs);
  const u1 = procUsage(input.serverPid)!;
  const agentsCpuMs = agentsCpu(input.agentPids()) - a0;
  if (d.status !== 'succeeded') throw new Error(`${d.kind} #${d.id} of ${version} ended ${d.status}: ${d.message}`);
  const used = usageBetween(u0, u1);
  const doneMs = Date.parse(d.endedAt!) - t0;
  return {
    kind: input.kind,
    version,
    hosts: d.hostCount,
    status: d.status,
    batches,
    apiMs,
    receivedP50Ms: agents.received.length ? percentile(agents.received, 50) - t0 : null,
    receivedAllMs: agents.received.length ? Math.max(...agents.received) - t0 : null,
    upAllMs: Math.max(...agents.up) - t0,
    doneMs,
    downloadBytes: agents.downloadBytes ?? null,
    tickets: agents.tickets ?? null,
    serverWrittenBytes: used.writtenBytes,
    serverCpuMs: used.cpuMs,
    serverCores: round(used.cpuMs / Math.max(1, doneMs), 2),
    agentsCpuMs,
    agentsCores: round(agentsCpuMs / Math.max(1, doneMs), 2),
  };
}

/** Follows a deployment until it ends, by its summary (or whole, every 250 ms, when NOOPS_BENCH_FLEET_FOLLOW=full). */
async function followToEnd(
  api: ApiClient,
  view: DeploymentView | DeploymentSummary,
  deadline: number,
): Promise<DeploymentView | DeploymentSummary> {
  let d: DeploymentView | DeploymentSummary = view;
  let full = process.env.NOOPS_BENCH_FLEET_FOLLOW === 'full';
  let index: number | undefined;
  while (d.status === 'running') {
    if (Date.now() > deadline) throw new Error(`deployment #${d.id} still running after the deadline`);
    if (full) {
      await new Promise((r) => setTimeout(r, FOLLOW_FULL_MS));
      d = await api.deployment(d.id);
      continue;
    }
    try {
      const s: DeploymentSummary = await deploymentSummary(api, d.id, index === undefined ? {} : { index, waitMs: FOLLOW_WAIT_MS });
      index = s.index;
      d = s;
    } catch (err) {
      // a server from before issue 19 has no summary: followed whole, as its `noops deploy` did
      if (!(index === undefined && err instanceof NoopsError && err.code === 'NOOPS_E_NOT_FOUND')) throw err;
      full = true;
    }
  }
  return d;
}

/** CPU ms used so far by the processes (those still there), summed. */
function agentsCpu(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (procUsage(pid)?.cpuMs ?? 0), 0);
}

/** Per server: whether it takes a rollout `policy` (learned from the first deploy asking for one). */
const takesPolicy = new WeakMap<ApiClient, boolean>();

/**
 * Starts the deployment with `policy: { batch }` (a deploy in batches of 10%, a rollback or a
 * desired-state change at 100%: every host at once), answered as its summary (`?view=summary`,
 * a few kB, as a script that follows it needs; the whole deployment is about 3 MB at 10,000
 * hosts, and an older server answers it whole). A server without rollout policies (before
 * batched rollouts) refuses the field and is asked again without it: it deploys to every host
 * at once, and the figures say so.
 */
async function start(input: DeployInput): Promise<{ view: DeploymentSummary; batches: string }> {
  const { api, tag, version, batch } = input;
  const plain = (): Promise<DeploymentSummary> =>
    input.kind === 'rollback' ? startSummary(api, 'rollback', { tag, to: version }) : startSummary(api, 'deploy', { tag, version });
  if (batch && takesPolicy.get(api) !== false) {
    try {
      const policy = { batch } as NonNullable<Parameters<ApiClient['deploy']>[0]['policy']>;
      const view =
        input.kind === 'rollback'
          ? await startSummary(api, 'rollback', { tag, to: version, policy })
          : await startSummary(api, 'deploy', { tag, version, policy });
      takesPolicy.set(api, true);
      return { view, batches: batch };
    } catch (err) {
      if (!(err instanceof NoopsError && err.code === 'NOOPS_E_INPUT' && /unknown field "policy"/.test(err.message))) throw err;
      takesPolicy.set(api, false);
    }
  }
  return { view: await plain(), batches: batch ? 'all at once (no batches on this server)' : 'server default' };
}
