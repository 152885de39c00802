/**
 * The loop's planner port (schedule-ports.ts) over the pure scheduler (src/schedule/): a fresh
 * `Fleet` per call (it changes its hosts in place), each cluster planned and applied in turn so the
 * next one sees what the previous took.
 */
import { Fleet, planCluster, planRebalance } from '../schedule/index.js';
import type { Planner } from './schedule-ports.js';

/** The real planner. */
export function schedulePlanner(): Planner {
  return {
    plan(hosts, asks) {
      const fleet = new Fleet(hosts);
      const plans = asks.map((ask) => {
        const plan = planCluster(fleet, ask);
        fleet.apply(plan, ask);
        return plan;
      });
      return { plans };
    },
    preview(hosts, asks, tag) {
      const ask = asks.find((a) => a.tag === tag);
      if (!ask) throw new Error(`no scheduled cluster ${tag} to plan`);
      return planCluster(new Fleet(hosts), ask, { explain: true });
    },
    rebalance(hosts, asks, maxMoves) {
      return planRebalance(new Fleet(hosts), asks, maxMoves);
    },
  };
}
