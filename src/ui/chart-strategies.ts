/**
 * The rows of a node's Strategies panel (pure), from the server's answer to
 * `GET /api/v1/strategies?at=NODE` (the server resolves the overrides, as its judge does): each
 * strategy set at the node or above, whether it is the node's own or inherited, and how it stands
 * there; the node's own first, then up the tree.
 */
import { parseFalconTags, type StrategiesAtView, type StrategyView } from '../api/index.js';

/** How a strategy stands at a node: it applies, a lower node's replaces it, or it is switched off. */
export type StrategyState = 'applies' | 'overridden' | 'off';

/** A strategy at a node: whether it is the node's own, and how it stands there. */
export interface StrategyAt {
  strategy: StrategyView;
  inherited: boolean;
  state: StrategyState;
}

/** How many pairs a selector has: a lower node has more. */
function depthOf(selector: string): number {
  return Object.keys(parseFalconTags(selector)).length;
}

/**
 * The panel's rows: those that apply and those that do not, lowest node first (then by id);
 * `inherited` when set on a node above `answer.at`.
 *
 * @example
 *   strategyRows(await strategiesAt(api, 'cop=acme,owt=web')).filter((r) => r.state === 'applies')
 */
export function strategyRows(answer: StrategiesAtView): StrategyAt[] {
  const here = depthOf(answer.at);
  const rows: StrategyAt[] = [
    ...answer.strategies.map((s) => ({ strategy: s, state: 'applies' as const })),
    ...answer.notApplied.map(({ because, ...s }) => ({ strategy: s, state: because })),
  ].map((r) => ({ ...r, inherited: depthOf(r.strategy.selector) < here }));
  return rows.sort((a, b) => depthOf(b.strategy.selector) - depthOf(a.strategy.selector) || a.strategy.id - b.strategy.id);
}
