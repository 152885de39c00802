/**
 * Takeover after a leader's death: three servers, one deployment that stays running (its one
 * host is an identity that never reports, so the rollout waits on it), and, each repetition,
 * the server leading `rollout` killed with SIGKILL. Measured from the kill: until another
 * server is listed leading `rollout` (GET /api/v1/servers on the survivors, every 20 ms), and
 * until the deployment's log grows (the new leader resumed it and wrote its progress). The
 * killed server is started again before the next repetition.
 */
import { round, summarize } from '../lib/stats.js';
import { apiOf, deploymentVia, leadersOf, type ServerNode } from '../../test/e2e/servers-fleet.js';
import { until } from '../../test/e2e/harness.js';
import { JOB, joinPaperHosts, type Fleet } from './fleet.js';

/** The one server leading `rollout`, as the first of `via` that answers GET /api/v1/servers sees it (undefined while none or several do). */
async function whoLeads(via: ServerNode[]): Promise<string | undefined> {
  for (const n of via) {
    const leaders = await leadersOf(n.proc);
    if (leaders?.length === 1) return leaders[0];
  }
  return undefined;
}

/** How often the survivors are asked who leads: fine enough for a lease of a second. */
const POLL_MS = 20;
/** Long enough that the deployment never times out during the measurement. */
const DEPLOY_TIMEOUT = '1h';

export interface TakeoverRow {
  leaseMs: number;
  repetitions: number;
  /** ms from the SIGKILL until a survivor lists another server leading rollout */
  takeoverMs: { n: number; p50: number; p99: number; max: number };
  /** ms from the SIGKILL until the running deployment's log grew (its first write under the new leader); null: not seen */
  resumeMs: { n: number; p50: number; p99: number; max: number } | null;
  samples: { takeoverMs: number; resumeMs: number | null }[];
}

/** Runs `repetitions` kills on `fleet` (started with `leaseMs`). */
export async function measureTakeover(fleet: Fleet, leaseMs: number, repetitions: number): Promise<TakeoverRow> {
  const { nodes } = fleet;
  const [slow] = await joinPaperHosts(nodes[0]!, ['takeover-1']);
  const cluster = `${JOB}_cluster.takeover`;
  const api = apiOf(nodes[0]!.proc); // it built the release: its artifact store has the package
  await api.setCluster({ tag: cluster, hosts: [slow!.name], yes: true });
  const d = await api.deploy({ tag: cluster, version: fleet.version, policy: { batch: '100%', timeout: DEPLOY_TIMEOUT } });
  const samples: TakeoverRow['samples'] = [];
  const giveUpMs = 5 * leaseMs + 10_000;
  for (let i = 0; i < repetitions; i++) {
    const leaderId = await until('a rollout leader', () => whoLeads(nodes), giveUpMs, POLL_MS);
    const leader = nodes.find((n) => n.id === leaderId)!;
    const others = nodes.filter((n) => n !== leader);
    const logBefore = (await deploymentVia(others, d.id)).progress!.log.length;
    const killedAt = performance.now();
    await leader.proc.stop('SIGKILL');
    let takeoverMs = NaN;
    let resumeMs: number | null = null;
    await until(
      'another server leading rollout, and the deployment written',
      async () => {
        if (Number.isNaN(takeoverMs)) {
          const now = await whoLeads(others);
          if (now !== undefined && now !== leader.id) takeoverMs = performance.now() - killedAt;
        }
        if (resumeMs === null) {
          const now = await deploymentVia(others, d.id);
          if (now.progress!.log.length > logBefore) resumeMs = performance.now() - killedAt;
        }
        return !Number.isNaN(takeoverMs) && resumeMs !== null;
      },
      giveUpMs,
      POLL_MS,
    ).catch((err: Error) => {
      if (Number.isNaN(takeoverMs)) throw err; // no takeover at all: the figure does not exist
    });
    samples.push({ takeoverMs: round(takeoverMs), resumeMs: resumeMs === null ? null : round(resumeMs) });
    process.stderr.write(`several-servers bench: lease ${leaseMs} ms, kill ${i + 1}: ${JSON.stringify(samples.at(-1))}\n`);
    await fleet.restart(leader);
  }
  const resumed = samples.flatMap((s) => (s.resumeMs === null ? [] : [s.resumeMs]));
  return {
    leaseMs,
    repetitions,
    takeoverMs: summarize(samples.map((s) => s.takeoverMs)),
    resumeMs: resumed.length > 0 ? summarize(resumed) : null,
    samples,
  };
}
