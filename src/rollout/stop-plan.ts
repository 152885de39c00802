/**
 * What a change of a cluster's hosts stops, pure: every host that runs the cluster's tag (has
 * a desired entry for it) and is not in the new host list. `cluster set` and `cluster apply` show
 * it and change nothing without `--yes`; with it, an undeploy of those hosts stops them.
 */
import type { StopPlanItem } from '../api/index.js';

/**
 * The instances that stop when `tag`'s hosts become `hosts`, given what its hosts are desired to
 * run (`desired`: the tag's desired entries). A host dropped earlier that still runs the tag is
 * in the plan too: nothing else would ever stop it. Sorted by host.
 *
 * @example
 *   stopPlan('c', ['h1'], [{ host: 'h1', version: 'v1' }, { host: 'h2', version: 'v1' }])
 *   // [{ host: 'h2', tag: 'c', version: 'v1' }]
 */
export function stopPlan(tag: string, hosts: readonly string[], desired: readonly { host: string; version: string }[]): StopPlanItem[] {
  const keep = new Set(hosts);
  return desired
    .filter((d) => !keep.has(d.host))
    .map((d) => ({ host: d.host, tag, version: d.version }))
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

/** A plan in words, one instance a line: "h2: TAG (v1)". */
export function describeStops(items: readonly StopPlanItem[]): string {
  return items.map((s) => `${s.host}: ${s.tag} (${s.version})`).join('; ');
}
