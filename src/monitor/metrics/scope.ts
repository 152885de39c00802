/**
 * Pure helpers between Falcon's points and noops' tree: the instance a series belongs to (its
 * tags hold the tree's pairs), and an agent report's metrics as checked points.
 */
import { nodeOfTags } from '../alarms/events.js';
import { checkFalconPush, type FalconPoint, MAX_PUSH_ITEMS, parseFalconTags } from '../../api/index.js';

/**
 * The tree tag an instance series belongs to: its tags' tree pairs (`cop=acme,owt=web,...`) in
 * the tree's order, `cop.acme_owt.web_...`; undefined for a host's series (no `cop` pair).
 *
 * @example
 *   instanceTagOf('cluster=prod,cop=acme,job=web,owt=shop,pdl=x,process=web,service=y') // 'cop.acme_owt.shop_pdl.x_service.y_job.web_cluster.prod'
 */
export function instanceTagOf(tags: string): string | undefined {
  if (!tags.includes('cop=')) return undefined;
  // the same node the alarms give the series; tags that are no path of the tree (a bad value,
  // pushed by anyone) name none, rather than failing every read that meets them
  return parseFalconTags(tags).cop ? nodeOfTags(tags) : undefined;
}

/**
 * An agent report's `metrics`, checked as a push is (api/falcon.ts: tags sorted, bad items out),
 * in pieces of MAX_PUSH_ITEMS. Answers the points and how many items were invalid. An agent that
 * reports more often than once a second (tests: 300 ms) and gives its step rounded to 0 s has
 * step 1: Falcon refuses a step of 0 from a push, noops' own agents are trusted with theirs.
 */
export function reportPoints(metrics: readonly unknown[] | undefined, nowSeconds: number): { points: FalconPoint[]; invalid: number } {
  const points: FalconPoint[] = [];
  let invalid = 0;
  if (metrics === undefined) return { points, invalid };
  for (let i = 0; i < metrics.length; i += MAX_PUSH_ITEMS) {
    const piece = metrics.slice(i, i + MAX_PUSH_ITEMS).map((m) => (isSubSecond(m) ? { ...m, step: 1 } : m));
    const checked = checkFalconPush(piece, nowSeconds)!;
    for (const p of checked.points) points.push(p);
    invalid += checked.invalid.length;
  }
  return { points, invalid };
}

function isSubSecond(m: unknown): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null && (m as { step?: unknown }).step === 0;
}
