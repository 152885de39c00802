/**
 * The judge (issue 15): Open-Falcon's, pure and light (no I/O, no zod). `Judge` holds every
 * series' history and last events; `parseFunc` checks a strategy's function when it is created.
 */
export { Judge, type JudgeOptions, type LastEvent } from './judge.js';
export { type ParsedFunc, parseFunc } from './funcs.js';
export * from './types.js';
export {
  checkStrategyTestFile,
  compareExpected,
  EXPECT_FIELDS,
  runStrategyTest,
  type StrategyTestEvent,
  type TestCase,
  type TestDifference,
} from './test-file.js';
