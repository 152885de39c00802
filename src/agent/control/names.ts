/**
 * What `noops ctl ... NAME|GROUP` means on a host, as a pure function. A watch is a process or
 * a cron: deployed ones are named TAG/NAME, standalone ones by their bare NAME. A group is the
 * set of watches a word names:
 *
 *   (nothing) or all      every watch
 *   TAG/NAME              one watch (the TAG may be partial: job.web_cluster.prod/web)
 *   NAME                  every watch called NAME (web on every instance, with its replicas web@2, ...), or the standalone one
 *   TAG                   every watch of the instances under TAG (partial: cluster.prod)
 */
import { replicaOf } from '../../api/index.js';
import { parseTag, valueOf, type Tag } from '../../tree/index.js';

/** A watch as the names see it. */
export interface WatchRef {
  /** the supervisor's id: TAG/NAME, or NAME for a standalone watch */
  id: string;
  /** the instance's canonical tag; null for a standalone watch */
  tag: string | null;
  name: string;
  kind: 'process' | 'cron';
}

/**
 * The watches `query` names, in the order given; empty when it names none.
 *
 * @example
 *   selectWatches('cluster.prod/web', refs) // web of every instance whose tag has cluster.prod
 */
export function selectWatches(query: string | undefined, refs: readonly WatchRef[]): WatchRef[] {
  const q = (query ?? '').trim();
  if (q === '' || q === 'all') return [...refs];
  const exact = refs.filter((r) => r.id === q);
  if (exact.length > 0) return exact;
  const slash = q.lastIndexOf('/');
  if (slash >= 0) {
    const pairs = pairsOf(q.slice(0, slash));
    const name = q.slice(slash + 1);
    return pairs === null ? [] : refs.filter((r) => named(r, name) && r.tag !== null && under(r.tag, pairs));
  }
  const byName = refs.filter((r) => named(r, q));
  if (byName.length > 0) return byName;
  const pairs = pairsOf(q);
  return pairs === null ? [] : refs.filter((r) => r.tag !== null && under(r.tag, pairs));
}

/** Whether a watch is called `name`, or is a replica of the process `name` (web@2 for web; docs/scheduler.md#replicas). */
function named(r: WatchRef, name: string): boolean {
  return r.name === name || (r.tag !== null && r.kind === 'process' && replicaOf(r.name).process === name);
}

function pairsOf(text: string): Tag | null {
  try {
    return parseTag(text);
  } catch {
    return null;
  }
}

/** True when `tag` has every pair of `pairs`. */
function under(tag: string, pairs: Tag): boolean {
  const t = parseTag(tag);
  return pairs.pairs.every((p) => valueOf(t, p.key) === p.value);
}
