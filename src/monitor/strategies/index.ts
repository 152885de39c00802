/**
 * Strategies bound to the service tree, nodata rules and maintenance windows (issue 15): the
 * checks of their fields and `StrategyBook`, which resolves the strategies of every point for
 * the judge loop. A named second entry of `monitor/` (monitor/README.md).
 *
 * @example
 *   import { StrategyBook } from '../monitor/strategies/index.js';
 *   const book = new StrategyBook({ store, bus, instances: () => actual.instances() });
 *   await book.load();
 *   book.forPoint(point, new Date()); // the judge's candidates
 */
export { type CandidateAnswer, HOSTS_REFRESH_MS, MAX_CACHED_SERIES, StrategyBook, type StrategyBookDeps } from './book.js';
export {
  MAX_PRIORITY,
  OPERATORS,
  checkFunc,
  checkMaxStep,
  checkMetric,
  checkNumber,
  checkOp,
  checkPriority,
  checkTags,
  parseDuration,
  MAX_DURATION_SECONDS,
  parseRun,
  windowHolds,
  type RunWindow,
} from './check.js';
export { nodePairs, type NodataRule } from './resolve.js';
export { planApply, type ApplyPlan, type WantedStrategy } from './apply.js';
