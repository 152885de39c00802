/**
 * Which strategies apply at a node, from every strategy the token sees (pure): those set on the
 * node itself or on a node above it (inherited), where for one metric and tags the lowest node's
 * replace the higher ones' (overridden), and one switched off there stops it (off), as the
 * server's StrategyBook resolves them.
 */
import { parseFalconTags } from '../api/index.js';
import { tagString } from './chart-data.js';

/** What of a strategy this needs (a subset of the API's StrategyView). */
export interface StrategyLike {
  selector: string;
  metric: string;
  tags: string | Readonly<Record<string, string>>;
  off: boolean;
}

/** How a strategy stands at a node. */
export type StrategyState = 'applies' | 'overridden' | 'off';

/** A strategy at a node: whether it is the node's own, and how it stands there. */
export interface StrategyAt<S> {
  strategy: S;
  inherited: boolean;
  state: StrategyState;
}

/** A selector's pairs (`cop=acme,owt=web`), as an object. */
function pairsOf(selector: string): Record<string, string> {
  return parseFalconTags(selector);
}

/** True when every pair of `upper` is in `node` (the node is `upper` or lies under it). */
function holds(node: Record<string, string>, upper: Record<string, string>): boolean {
  return Object.entries(upper).every(([k, v]) => node[k] === v);
}

/**
 * The strategies that apply at the node `selector` (its pairs): set there or above, ordered from
 * the node's own down to the highest; for one metric and tags only the lowest node's stand, the
 * others are 'overridden'; an `off` entry is 'off' and so are the ones it switches off.
 *
 * @example
 *   strategiesAt(all, 'cop=acme,owt=web').filter((s) => s.state === 'applies')
 */
export function strategiesAt<S extends StrategyLike>(strategies: readonly S[], selector: string): StrategyAt<S>[] {
  const node = pairsOf(selector);
  const depth = (s: StrategyLike): number => Object.keys(pairsOf(s.selector)).length;
  const here = Object.keys(node).length;
  const above = strategies.filter((s) => holds(node, pairsOf(s.selector)));
  const group = (s: StrategyLike): string => `${s.metric}\n${tagString(s.tags)}`;
  const lowest = new Map<string, number>();
  for (const s of above) lowest.set(group(s), Math.max(lowest.get(group(s)) ?? -1, depth(s)));
  const offAt = new Set(above.filter((s) => s.off && depth(s) === lowest.get(group(s))).map(group));
  return above
    .map((s) => ({
      strategy: s,
      inherited: depth(s) < here,
      state: (offAt.has(group(s)) ? 'off' : depth(s) < lowest.get(group(s))! ? 'overridden' : 'applies') as StrategyState,
    }))
    .sort((a, b) => depth(b.strategy) - depth(a.strategy));
}
