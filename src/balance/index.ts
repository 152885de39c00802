/**
 * Load-balancer pools (issue 16, slide 2.6): every pool's members worked out from the one read
 * model of what runs, each balancer host's desired pools with their index (for its agent's
 * poll), drain marks, the balancers' reports, and the rollout's hooks: drain before stop, add
 * after healthy. See README.md and docs/balancers.md.
 *
 * @example
 *   import { Balancers, BalancerHooks, balanceStoreOf } from '../balance/index.js';
 *   const balancers = new Balancers({ reports, store: balanceStoreOf(store), bus });
 *   await balancers.start();
 *   balancers.view.desired('lb1'); // { index, pools: [{ name, driver, members: [...] }] }
 *   const hooks = new BalancerHooks(balancers); // RolloutDeps.hooks
 */
export { type DeadlineSource, drainTimeoutOf } from './deadline.js';
export { type DrainOutcome, type DrainRequest, drainAndWait, waitReady } from './drain.js';
export { BalancerHooks } from './hooks.js';
export {
  type Candidate,
  MEMBER_ID_MAX,
  balancersIndex,
  covers,
  desiredBalancers,
  liveMarks,
  memberId,
  membersOf,
  stateOf,
} from './members.js';
export type { BalanceStore, DrainMark, StoredBalancerReport } from './ports.js';
export { Balancers, type BalancersDeps, MARK_GRACE_MS } from './service.js';
export { balanceStoreOf, poolOf } from './store-port.js';
export { BALANCER_INDEX_CHANNEL, type BalancerIndexTiming, NO_POOLS_INDEX, PoolView, type PoolViewOptions } from './view.js';
