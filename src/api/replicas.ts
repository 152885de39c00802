/**
 * Replicas: several copies of one instance on one host (a scheduled cluster without
 * `distinct_hosts` whose placement gives a host a count above 1; docs/scheduler.md, "Replicas").
 * Each copy of a process has its own name: the first keeps the manifest's name (`web`), so what
 * ran before replicas existed is not restarted; the others are `web@2`, `web@3`, ... A manifest's
 * process names never hold `@` (lower-case letters, digits, `-`, `_`), so the names cannot clash.
 *
 * @example
 *   replicaName('web', 1)      // 'web'
 *   replicaName('web', 3)      // 'web@3'
 *   replicaOf('web@3')         // { process: 'web', replica: 3 }
 *   replicaOf('web')           // { process: 'web', replica: 1 }
 */

/** The separator of a process's name and its replica's number (systemd's template instances use it too). */
export const REPLICA_SEPARATOR = '@';

/** Most replicas of one instance on one host: far above what a host runs, low enough that a bad count cannot exhaust its pids. */
export const MAX_REPLICAS = 1000;

/** The name of replica `n` (1-based) of a process. */
export function replicaName(process: string, n: number): string {
  return n <= 1 ? process : `${process}${REPLICA_SEPARATOR}${n}`;
}

/** The process and the replica a reported name stands for (a name without `@` is replica 1). */
export function replicaOf(name: string): { process: string; replica: number } {
  const at = name.lastIndexOf(REPLICA_SEPARATOR);
  if (at <= 0) return { process: name, replica: 1 };
  const n = Number(name.slice(at + 1));
  return Number.isInteger(n) && n >= 2 ? { process: name.slice(0, at), replica: n } : { process: name, replica: 1 };
}

/** How many replicas an instance runs: its `replicas` when a whole number from 1 to MAX_REPLICAS, else 1 (absent: 1). */
export function replicaCount(d: { replicas?: number | undefined }): number {
  const n = d.replicas;
  return n !== undefined && Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_REPLICAS) : 1;
}
