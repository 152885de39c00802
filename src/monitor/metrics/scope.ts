/**
 * Pure helpers between Falcon's points and noops' tree: the instance a series belongs to (its
 * tags hold the tree's pairs), and an agent report's metrics as Falcon's points.
 */
import { nodeOfTags } from '../alarms/events.js';
import { type FalconPoint, falconTagString, parseFalconTags } from '../../api/index.js';
import type { Metric } from '../report-schema.js';

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
 * An agent report's `metrics`, already checked by the report's schema (report-schema.ts `Metric`,
 * which holds every rule of Falcon's push), normalized as a push is (api/falcon.ts): tags sorted
 * by key, a timestamp not above 0 or more than twice now taken as now.
 *
 * @example
 *   ingest.take(reportPoints(body.metrics, nowSeconds).points, { kind: 'agent', host });
 */
export function reportPoints(metrics: readonly Metric[] | undefined, nowSeconds: number): { points: FalconPoint[] } {
  const points: FalconPoint[] = [];
  for (const m of metrics ?? []) {
    const timestamp = m.timestamp <= 0 || m.timestamp > nowSeconds * 2 ? nowSeconds : m.timestamp;
    points.push({ ...m, timestamp, tags: falconTagString(parseFalconTags(m.tags)) });
  }
  return { points };
}
