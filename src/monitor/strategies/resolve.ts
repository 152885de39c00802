/**
 * Pure: which stored strategies apply to a series, as the judge's candidates. A strategy at a
 * node applies to an instance's series whose tags hold the node's pairs (tag-bound), and to a
 * host's series whose endpoint is a host beneath the node (host-bound). Along one path of the
 * tree, the lowest node with a strategy for a metric and tags decides: its strategies replace
 * those above, and one marked `off` removes them.
 */
import { parseFalconTags } from '../../api/index.js';
import type { MaintenanceRow, NodataRow, StrategyRow } from '../../store/index.js';
import { ancestorsAndSelf, formatTag, parseTag } from '../../tree/index.js';
import type { JudgeStrategy } from '../judge/types.js';
import type { RunWindow } from './check.js';

/** A strategy ready to resolve: its node's pairs and depth, its override key, its judge form. */
export interface BoundStrategy {
  row: StrategyRow;
  /** the node's pairs (`cop` -> `xiaomi`, ...) */
  pairs: ReadonlyArray<readonly [string, string]>;
  /** how many pairs the node has: a lower node has more */
  depth: number;
  /** what an override must share: metric and tags */
  key: string;
  /** the strategy's own tags */
  tags: Record<string, string>;
  /** tag-bound form: the node's pairs and the strategy's tags, no endpoint */
  tagBound: JudgeStrategy;
  window: RunWindow | undefined;
}

/** A strategy the judge may check for one series, and the window it runs in. */
export interface Candidate {
  strategy: JudgeStrategy;
  window: RunWindow | undefined;
}

/** A nodata rule as the alarms part takes it: the node's pairs apart, tags as an object. */
export interface NodataRule {
  id: number;
  node: string;
  /** the node's pairs: a series of an instance matches when its tags hold them */
  pairs: Record<string, string>;
  metric: string;
  tags: Record<string, string>;
  afterSeconds: number;
  mock: number;
  /** seconds between mock points; undefined: the series' own step */
  step: number | undefined;
}

/** The pairs of a tree node, as tag pairs of a series. */
export function nodePairs(node: string): Array<readonly [string, string]> {
  return parseTag(node).pairs.map((p) => [p.key, p.value] as const);
}

/** Falcon's `k=v,k=v` as an object (api/falcon.ts). */
export const tagObject = parseFalconTags;

/** Prepares a stored strategy for resolution. */
export function bind(row: StrategyRow): BoundStrategy {
  const pairs = nodePairs(row.node);
  const tags = tagObject(row.tags);
  const tagBound: JudgeStrategy = {
    id: String(row.id),
    metric: row.metric,
    tags: { ...Object.fromEntries(pairs), ...tags },
    func: row.func,
    op: row.op,
    right: row.right,
    maxStep: row.maxStep,
    priority: row.priority,
    note: row.note,
  };
  return {
    row,
    pairs,
    depth: pairs.length,
    key: `${row.metric}\u0000${row.tags}`,
    tags,
    tagBound,
    window: row.runFrom !== null && row.runTo !== null ? { from: row.runFrom, to: row.runTo } : undefined,
  };
}

/** Prepares a stored nodata rule. */
export function bindNodata(row: NodataRow): NodataRule {
  return {
    id: row.id,
    node: row.node,
    pairs: Object.fromEntries(nodePairs(row.node)),
    metric: row.metric,
    tags: tagObject(row.tags),
    afterSeconds: row.afterSeconds,
    mock: row.mock,
    step: row.step ?? undefined,
  };
}

/** True when the series' tags hold every pair. */
export function holdsPairs(tags: Record<string, string>, pairs: Iterable<readonly [string, string]>): boolean {
  for (const [k, v] of pairs) if (tags[k] !== v) return false;
  return true;
}

/**
 * A series is an instance's when its tags name a node of the tree (they hold `cop`): its
 * strategies are then bound by tags; any other series is its endpoint host's.
 */
export function isInstanceSeries(tags: Record<string, string>): boolean {
  return tags.cop !== undefined;
}

/**
 * Along one path of the tree (the strategies whose node is on it), the lowest node decides for
 * each metric and tags: its strategies apply, none above it; `off` ones apply nothing.
 */
export function resolvePath(onPath: readonly BoundStrategy[]): BoundStrategy[] {
  const lowest = new Map<string, number>();
  for (const s of onPath) lowest.set(s.key, Math.max(lowest.get(s.key) ?? -1, s.depth));
  return onPath.filter((s) => !s.row.off && s.depth === lowest.get(s.key));
}

/** The strategies of `metric` that apply to an instance's series with these tags, by id. */
export function forInstance(ofMetric: readonly BoundStrategy[], tags: Record<string, string>): Candidate[] {
  const onPath = ofMetric.filter((s) => holdsPairs(tags, s.pairs));
  return resolvePath(onPath).map((s) => ({ strategy: s.tagBound, window: s.window }));
}

/**
 * The paths of the tree a host is beneath: for each node it is directly under (a cluster it is
 * in, an instance it runs), that node and its ancestors.
 */
export function hostPaths(leaves: Iterable<string>): Array<Set<string>> {
  const seen = new Set<string>();
  const out: Array<Set<string>> = [];
  for (const leaf of leaves) {
    if (seen.has(leaf)) continue;
    seen.add(leaf);
    out.push(new Set(ancestorsAndSelf(parseTag(leaf)).map(formatTag)));
  }
  return out;
}

/**
 * The strategies of `metric` that apply to a host's series, bound to the host, by id. Each path
 * the host is beneath is resolved on its own (a node on one path overrides only on that path);
 * a strategy any path keeps applies once.
 */
export function forHost(ofMetric: readonly BoundStrategy[], host: string, paths: readonly Set<string>[]): Candidate[] {
  const kept = new Map<number, BoundStrategy>();
  for (const path of paths) {
    for (const s of resolvePath(ofMetric.filter((x) => path.has(x.row.node)))) kept.set(s.row.id, s);
  }
  return [...kept.values()]
    .sort((a, b) => a.row.id - b.row.id)
    .map((s) => ({
      strategy: { ...s.tagBound, tags: { ...s.tags }, endpoint: host },
      window: s.window,
    }));
}

/** Whether a maintenance window covers a series (of an instance by its tags, of a host by its paths). */
export function windowCovers(
  w: MaintenanceRow,
  endpoint: string,
  tags: Record<string, string>,
  paths: () => readonly Set<string>[],
): boolean {
  if (w.host !== null) return w.host === endpoint;
  if (w.node === null) return false;
  if (isInstanceSeries(tags)) return holdsPairs(tags, nodePairs(w.node));
  return paths().some((p) => p.has(w.node as string));
}

/**
 * The nodata rule for a series: of the rules of its metric whose tags it holds and whose node it
 * is beneath, the one at the lowest node (the earliest among equals).
 */
export function nodataFor(
  rules: readonly NodataRule[],
  series: { endpoint: string; metric: string; tags: Record<string, string> },
  paths: () => readonly Set<string>[],
): NodataRule | undefined {
  let best: NodataRule | undefined;
  let bestDepth = -1;
  for (const r of rules) {
    if (r.metric !== series.metric || !holdsPairs(series.tags, Object.entries(r.tags))) continue;
    const beneath = isInstanceSeries(series.tags) ? holdsPairs(series.tags, Object.entries(r.pairs)) : paths().some((p) => p.has(r.node));
    const depth = Object.keys(r.pairs).length;
    if (beneath && depth > bestDepth) {
      best = r;
      bestDepth = depth;
    }
  }
  return best;
}
