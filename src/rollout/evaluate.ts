/**
 * Deciding, without I/O, what one host's report says about one deployment: is the host
 * running the release, healthy, and since when; has it gone back to its previous release.
 */
import { type FailureReport, type ProcessReport, replicaOf } from '../api/index.js';

/** What one host reported about one tag. Undefined when the host has not reported yet. */
export interface HostObservation {
  processes: ProcessReport[];
  failure: FailureReport | undefined;
}

/** Where a host is with a release. */
export type Readiness =
  /** its agent could not bring the release up (the reason is the agent's) */
  | { kind: 'failed'; reason: string }
  /** not yet up and healthy: why not */
  | { kind: 'pending'; reason: string }
  /** every process up and passing its check, since `since` (ms since the epoch) */
  | { kind: 'healthy'; since: number; downloaded: boolean | null };

/**
 * A host is healthy when every process the release declares runs that version, is `up`, and
 * passes its health check; it is healthy since the latest of its processes became so. An agent
 * that does not check health (no `health` field) counts an `up` process as healthy since it started.
 * The replicas of a process its agent reports (`web@2`, docs/scheduler.md#replicas) count as it does.
 *
 * @example
 *   hostReadiness('abc123def', ['web'], { processes: [{ process: 'web', version: 'abc123def', state: 'up',
 *     health: 'healthy', healthySince: '2024-05-01T12:00:00.000Z', ... }], failure: undefined })
 *   // => { kind: 'healthy', since: 1714564800000, downloaded: null }
 */
export function hostReadiness(version: string, expected: readonly string[], obs: HostObservation | undefined): Readiness {
  if (!obs) return { kind: 'pending', reason: 'its agent has not reported yet' };
  if (obs.failure && obs.failure.version === version) return { kind: 'failed', reason: obs.failure.error };
  let since = 0;
  let downloaded: boolean | null = null;
  const replicas = obs.processes.filter(
    (x) => x.version === version && x.process.includes('@') && expected.includes(replicaOf(x.process).process),
  );
  for (const name of [...expected, ...replicas.map((r) => r.process)]) {
    const p = obs.processes.find((x) => x.process === name && x.version === version);
    if (!p) return { kind: 'pending', reason: `${name}: not running ${version} yet` };
    if (p.downloaded !== undefined) downloaded = (downloaded ?? false) || p.downloaded;
    if (p.state !== 'up') return { kind: 'pending', reason: `${name}: ${p.state}${p.error ? ` (${p.error})` : ''}` };
    if (p.health === 'starting') return { kind: 'pending', reason: `${name}: waiting for its first health check` };
    if (p.health === 'unhealthy')
      return { kind: 'pending', reason: `${name}: health check failing: ${p.healthError ?? 'no reason given'}` };
    const at = p.health === 'healthy' ? p.healthySince : p.startedAt;
    since = Math.max(since, at ? Date.parse(at) : 0);
  }
  return { kind: 'healthy', since, downloaded };
}

/**
 * Has a host stopped every process of the tag (an undeploy)? It has once its report shows none;
 * it counts at once (`since` 0: `healthy_for` is about running processes, and none runs).
 *
 * @example stoppedReadiness({ processes: [], failure: undefined }) // { kind: 'healthy', since: 0, downloaded: null }
 */
export function stoppedReadiness(obs: HostObservation | undefined, failedHook?: string): Readiness {
  // its before-stop hook failed (a load balancer did not drain it): it was not told to stop, so it fails now
  if (failedHook !== undefined) return { kind: 'failed', reason: failedHook };
  if (!obs) return { kind: 'pending', reason: 'its agent has not reported yet' };
  if (obs.processes.length === 0) return { kind: 'healthy', since: 0, downloaded: null };
  const still = obs.processes.map((p) => `${p.process} ${p.version}${p.pid === null ? '' : ` (pid ${p.pid})`}`);
  return { kind: 'pending', reason: `still running: ${still.join(', ')}` };
}

/**
 * Has a host gone back to `previous` (null: to running nothing of the tag)? Every process it
 * reports for the tag must run that version and be up. `failed` when its agent could not.
 */
export function revertState(previous: string | null, obs: HostObservation | undefined): 'done' | 'pending' | { failed: string } {
  if (!obs) return 'pending';
  if (previous === null) return obs.processes.length === 0 ? 'done' : 'pending';
  if (obs.failure && obs.failure.version === previous) return { failed: obs.failure.error };
  if (obs.processes.length === 0) return 'pending';
  return obs.processes.every((p) => p.version === previous && p.state === 'up') ? 'done' : 'pending';
}

/** The observation of one tag in one host's report. */
export function observe(
  tag: string,
  report: { processes: ProcessReport[]; failures: FailureReport[] } | undefined,
): HostObservation | undefined {
  if (!report) return undefined;
  return {
    processes: report.processes.filter((p) => p.tag === tag),
    failure: report.failures.find((f) => f.tag === tag),
  };
}

/**
 * The version a rollback goes back to: the newest succeeded deployment whose version differs
 * from the current one (the newest succeeded). Null when there is none.
 */
export function previousVersion(succeededNewestFirst: readonly { version: string }[]): string | null {
  const current = succeededNewestFirst[0]?.version;
  if (current === undefined) return null;
  return succeededNewestFirst.find((d) => d.version !== current)?.version ?? null;
}
