/**
 * Pure: what `noops strategy apply` changes so that the strategies of each node named in a file
 * are exactly the file's. A stored strategy equal to a wanted one stays; one of the same node,
 * metric and tags as a wanted one is changed in place (its id, and so its alarms' history, kept);
 * the rest of the file is added and the rest of those nodes' strategies removed.
 */
import type { NewStrategy, StrategyPatch, StrategyRow } from '../../store/index.js';

/** A strategy as a file wants it: the stored fields without who and when. */
export type WantedStrategy = Omit<NewStrategy, 'createdBy' | 'createdAt'>;

/** The changes, in file order for added and changed, by id for removed. */
export interface ApplyPlan {
  add: WantedStrategy[];
  change: { from: StrategyRow; patch: StrategyPatch; to: StrategyRow }[];
  remove: StrategyRow[];
}

const FIELDS = ['func', 'op', 'right', 'maxStep', 'priority', 'note', 'runFrom', 'runTo', 'off'] as const;

const identity = (s: WantedStrategy): string => `${s.node}\u0000${s.metric}\u0000${s.tags}`;

function same(a: WantedStrategy, b: WantedStrategy): boolean {
  return identity(a) === identity(b) && FIELDS.every((f) => a[f] === b[f]);
}

/**
 * Plans an apply: `stored` are the current strategies of the nodes the file names (every one of
 * them), `wanted` the file's.
 *
 * @example
 *   planApply([row], [{ ...row, right: 1 }]) // { add: [], change: [{ from: row, patch: { right: 1 }, to }], remove: [] }
 */
export function planApply(stored: readonly StrategyRow[], wanted: readonly WantedStrategy[]): ApplyPlan {
  const left = [...stored].sort((a, b) => a.id - b.id);
  const take = (pick: (s: StrategyRow) => boolean): StrategyRow | undefined => {
    const i = left.findIndex(pick);
    return i < 0 ? undefined : left.splice(i, 1)[0];
  };
  // Equal ones first, so a file that only reorders changes nothing.
  const rest = wanted.filter((w) => take((s) => same(s, w)) === undefined);
  const plan: ApplyPlan = { add: [], change: [], remove: [] };
  for (const w of rest) {
    const from = take((s) => identity(s) === identity(w));
    if (from === undefined) {
      plan.add.push(w);
      continue;
    }
    const patch: StrategyPatch = {};
    for (const f of FIELDS) if (from[f] !== w[f]) (patch as Record<string, unknown>)[f] = w[f];
    plan.change.push({ from, patch, to: { ...from, ...patch } });
  }
  plan.remove = left;
  return plan;
}
