/**
 * Helpers for several `noops server` processes on one database (issue 14), shared by
 * several-servers.test.ts and bench/several-servers: who leads which control loop
 * (`GET /api/v1/servers`, what `noops servers --json` prints), and a deployment read through
 * whichever server still answers.
 */
import { ApiClient, type DeploymentView } from '../../src/api/index.js';
import { until, type ServerProc } from './harness.js';

/** One row of `noops servers --json` (GET /api/v1/servers answers `{ servers: [...] }`): the fields. */
export interface ServerRow {
  id: string;
  /** the URL it serves */
  address: string;
  /** the control loops it leads now, e.g. ["rollout"] */
  leads: string[];
  lastSeen: string;
}

/** One server of the fleet: its id (`--server-id`), data folder, port and process. */
export interface ServerNode {
  id: string;
  data: string;
  port: number;
  proc: ServerProc;
}

/** How long a server that does not answer (paused, dead) is waited for by these helpers. */
const ANSWER_MS = 1000;

/** The flags that name a server and shorten its lease (`noops server --server-id ID --lease-ms N`). */
export function leaseArgs(id: string, leaseMs: number): string[] {
  return ['--lease-ms', String(leaseMs), '--server-id', id];
}

/** GET /api/v1/servers on one server; undefined when it does not answer in time (paused, dead) or refuses. */
export async function listServers(server: { url: string; adminToken: string }): Promise<ServerRow[] | undefined> {
  try {
    const res = await fetch(`${server.url}/api/v1/servers`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
      signal: AbortSignal.timeout(ANSWER_MS),
    });
    // the API answers { servers: [...] } (ServersView); `noops servers --json` prints the array
    return res.ok ? ((await res.json()) as { servers: ServerRow[] }).servers : undefined;
  } catch {
    return undefined;
  }
}

/** The ids leading `loop` as `server` sees them (undefined when it does not answer). */
export async function leadersOf(server: { url: string; adminToken: string }, loop = 'rollout'): Promise<string[] | undefined> {
  return (await listServers(server))?.filter((r) => r.leads.includes(loop)).map((r) => r.id);
}

/**
 * The node leading `rollout`, once one of `via` sees exactly one leader that passes `ok`
 * (e.g. "not the one just killed"), polled every 50 ms until `timeoutMs`.
 */
export function rolloutLeader(
  nodes: ServerNode[],
  via: ServerNode[],
  what: string,
  ok: (id: string) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<ServerNode> {
  return until(
    what,
    async () => {
      for (const v of via) {
        const leaders = await leadersOf(v.proc);
        if (leaders?.length === 1 && ok(leaders[0]!)) return nodes.find((n) => n.id === leaders[0]);
      }
      return undefined;
    },
    timeoutMs,
    50,
  );
}

/** An admin API client of one server. */
export const apiOf = (s: ServerProc): ApiClient => new ApiClient(s.url, s.adminToken);

/** Whether the node's process still runs (a paused one does). */
export const isAlive = (n: ServerNode): boolean => n.proc.child.exitCode === null && n.proc.child.signalCode === null;

/** The deployment, read through the first of `via` that answers. */
export function deploymentVia(via: ServerNode[], id: number, timeoutMs = 10_000): Promise<DeploymentView> {
  return until(
    `deployment #${id} through ${via.map((n) => n.id).join(' or ')}`,
    async () => {
      for (const n of via.filter(isAlive)) {
        const d = await apiOf(n.proc)
          .deployment(id)
          .catch(() => undefined);
        if (d) return d;
      }
      return undefined;
    },
    timeoutMs,
    50,
  );
}

/** The deployment once it ended, read through whichever of `via` answers. */
export function endedVia(via: ServerNode[], id: number, timeoutMs = 90_000): Promise<DeploymentView> {
  return until(
    `deployment #${id} to end`,
    async () => {
      const d = await deploymentVia(via, id);
      return d.status !== 'running' && d;
    },
    timeoutMs,
    200,
  );
}

/** The deployment's `batch N of M` log lines, in order. */
export const batchLines = (d: DeploymentView): string[] => d.progress!.log.map((l) => l.message).filter((m) => /^batch \d+ of \d+/.test(m));
