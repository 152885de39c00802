/**
 * The scheduler (issue 18): pure, no I/O. Filters and scorers over a `Fleet`, `planCluster` for
 * one cluster, `planRebalance` for the fleet. The control loop (server/) reads the state, asks for
 * plans and carries them out. See README.md and docs/scheduler.md.
 */
export type { ClusterPlan, HostReason, PlaceAsk, PlanOptions, SchedHost } from './types.js';
export { EMPTY_LEVELS, Fleet, LEVELS } from './fleet.js';
export {
  type Filter,
  FILTERS,
  constraints,
  distinctHosts,
  feasible,
  firstFailure,
  formatConstraint,
  leaveReason,
  meets,
  notDraining,
  ports,
  resources,
  up,
} from './filters.js';
export { binpack, fullness, spread } from './scorers.js';
export { BINPACK_LIMIT, SPREAD_LIMIT, UNORDERED_LIMIT, hostFullness, placedHosts, planCluster } from './plan.js';
export { placedInstances } from './replicas.js';
export { formatCores, formatSize } from './sizes.js';
export { planRebalance } from './rebalance.js';
