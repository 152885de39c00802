/** Words and numbers for people: times, durations, host states, counts. Pure. */

/**
 * How long ago an ISO time was: "12s ago", "3m ago", "5h ago", "2d ago"; "never" for null.
 *
 * @example
 *   ago('2024-01-01T00:00:00Z', Date.parse('2024-01-01T00:03:00Z')) // '3m ago'
 */
export function ago(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/**
 * The time between two ISO times (or from one until now): "45s", "2m 05s", "1h 02m".
 *
 * @example
 *   duration('2024-01-01T00:00:00Z', '2024-01-01T00:02:05Z', 0) // '2m 05s'
 */
export function duration(from: string, to: string | null, now: number): string {
  const s = Math.max(0, Math.round(((to ? Date.parse(to) : now) - Date.parse(from)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
}

/** A local date and time to the second, for tooltips and the history table: "2024-01-31 14:05:09". */
export function when(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * A list of names cut to its first `max`, saying how many more (a cluster's hosts in a line:
 * every one of a small cluster, not 10,000 of a large one).
 *
 * @example firstNames(['h1', 'h2', 'h3'], 2) // 'h1, h2 and 1 more'
 */
export function firstNames(names: readonly string[], max: number): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** "1 host", "3 hosts". */
export function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A host's result in a deployment, split into its state and the reason it failed. */
export interface HostState {
  state: 'pending' | 'succeeded' | 'failed' | 'other';
  /** the words after "failed: " (or an unknown result as it is) */
  reason: string | null;
}

/**
 * Reads a deployment's per-host result ('pending', 'succeeded', 'failed: REASON').
 *
 * @example
 *   hostState('failed: exited with code 1') // { state: 'failed', reason: 'exited with code 1' }
 */
export function hostState(result: string | undefined): HostState {
  if (result === undefined || result === 'pending') return { state: 'pending', reason: null };
  if (result === 'succeeded') return { state: 'succeeded', reason: null };
  if (result.startsWith('failed')) return { state: 'failed', reason: result.replace(/^failed:?\s*/, '') || null };
  return { state: 'other', reason: result };
}

/** A cluster.conf policy object as `key: value` lines, sorted, the way cluster.conf reads. */
export function confLines(conf: Record<string, unknown>): string[] {
  return Object.keys(conf)
    .sort()
    .map((k) => {
      const v = conf[k];
      return `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`;
    });
}
