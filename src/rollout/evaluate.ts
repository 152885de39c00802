/**
 * Deciding, without I/O: how far a deployment has come, from what the agents reported.
 */
import type { FailureReport, ProcessReport } from '../api/types.js';

/** What one host reported about one tag. Undefined when the host has not reported yet. */
export interface HostObservation {
  processes: ProcessReport[];
  failure: FailureReport | undefined;
}

export type HostResult = 'pending' | 'succeeded' | `failed: ${string}`;

/**
 * A host has succeeded when every process the release declares runs the target version and is
 * up; it has failed when its agent reported that it could not bring the target version up.
 *
 * @example
 *   evaluateHost('abc123def', ['web'], { processes: [{ process: 'web', version: 'abc123def', state: 'up', ... }], failure: undefined })
 *   // => 'succeeded'
 */
export function evaluateHost(version: string, expected: readonly string[], obs: HostObservation | undefined): HostResult {
  if (!obs) return 'pending';
  if (obs.failure && obs.failure.version === version) return `failed: ${obs.failure.error}`;
  const up = new Set(obs.processes.filter((p) => p.version === version && p.state === 'up').map((p) => p.process));
  return expected.every((name) => up.has(name)) ? 'succeeded' : 'pending';
}

export interface DeploymentVerdict {
  hostResults: Record<string, HostResult>;
  outcome: 'running' | 'succeeded' | 'failed';
  message: string | null;
}

/**
 * All hosts at once: the deployment succeeds when every host has, fails as soon as one host
 * fails (the others are then returned to their previous release), and fails at its deadline
 * naming the hosts that never reported the new release.
 */
export function evaluateDeployment(
  input: { version: string; hosts: readonly string[]; deadline: string },
  expected: readonly string[],
  observations: ReadonlyMap<string, HostObservation | undefined>,
  now: number,
): DeploymentVerdict {
  const hostResults: Record<string, HostResult> = {};
  for (const host of input.hosts) hostResults[host] = evaluateHost(input.version, expected, observations.get(host));
  const failed = input.hosts.filter((h) => hostResults[h]!.startsWith('failed'));
  if (failed.length > 0) {
    const reasons = failed.map((h) => `${h}: ${hostResults[h]!.slice('failed: '.length)}`);
    return { hostResults, outcome: 'failed', message: `the new release failed on ${failed.length} host(s): ${reasons.join('; ')}` };
  }
  const pending = input.hosts.filter((h) => hostResults[h] === 'pending');
  if (pending.length === 0) return { hostResults, outcome: 'succeeded', message: null };
  if (now >= Date.parse(input.deadline)) {
    for (const h of pending) hostResults[h] = 'failed: timed out waiting for the new release to be up';
    return { hostResults, outcome: 'failed', message: `timed out waiting for ${pending.join(', ')} to run ${input.version}` };
  }
  return { hostResults, outcome: 'running', message: null };
}

/** The observation of one tag in one host's report. */
export function observe(tag: string, report: { processes: ProcessReport[]; failures: FailureReport[] } | undefined): HostObservation | undefined {
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
