/**
 * Pure helpers between Falcon's points and noops' tree: the instance a series belongs to (its
 * tags hold the tree's pairs), and an agent report's metrics as checked points.
 */
import { checkFalconPush, type FalconPoint, MAX_PUSH_ITEMS, parseFalconTags } from '../../api/index.js';
import { LEVELS } from '../../tree/index.js';

/**
 * The tree tag an instance series belongs to: its tags' tree pairs (`cop=acme,owt=web,...`) in
 * the tree's order, `cop.acme_owt.web_...`; undefined for a host's series (no `cop` pair).
 *
 * @example
 *   instanceTagOf('cluster=prod,cop=acme,job=web,owt=shop,pdl=x,process=web,service=y') // 'cop.acme_owt.shop_pdl.x_service.y_job.web_cluster.prod'
 */
export function instanceTagOf(tags: string): string | undefined {
  if (!tags.includes('cop=')) return undefined;
  const pairs = parseFalconTags(tags);
  if (pairs.cop === undefined || pairs.cop === '') return undefined;
  const parts: string[] = [];
  for (const level of LEVELS) {
    const value = pairs[level];
    if (value !== undefined && value !== '') parts.push(`${level}.${value}`);
  }
  return parts.join('_');
}

/**
 * An agent report's `metrics`, checked as a push is (api/falcon.ts: tags sorted, bad items out),
 * in pieces of MAX_PUSH_ITEMS. Answers the points and how many items were invalid.
 */
export function reportPoints(metrics: readonly unknown[] | undefined, nowSeconds: number): { points: FalconPoint[]; invalid: number } {
  const points: FalconPoint[] = [];
  let invalid = 0;
  if (metrics === undefined) return { points, invalid };
  for (let i = 0; i < metrics.length; i += MAX_PUSH_ITEMS) {
    const checked = checkFalconPush(metrics.slice(i, i + MAX_PUSH_ITEMS), nowSeconds)!;
    for (const p of checked.points) points.push(p);
    invalid += checked.invalid.length;
  }
  return { points, invalid };
}
