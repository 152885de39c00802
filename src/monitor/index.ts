/**
 * Monitoring, part one: the agents' reports and the one read model of what runs where.
 * `ActualState` takes every report (the heartbeat), keeps each host's processes, metrics, events
 * and crons in memory, and writes heartbeats and changed processes to the store in batches. Every
 * route and the rollout controller read it. The report's zod schema is a second, named entry
 * (`monitor/report-schema.ts`, it loads zod); this surface is light. See README.md.
 *
 * @example
 *   import { ActualState } from '../monitor/index.js';
 *   const actual = new ActualState(store, 15_000);
 *   await actual.load(); // what runs, from the store
 *   await actual.receive('h1', report); // an agent's heartbeat
 *   actual.instances(); // every process of every instance, as `noops ps` lists them
 *   new ActualState(store, 15_000, bus); // several servers: reports shared through the store and the bus
 */
export { ActualState, EVENTS_PER_HOST, type ActualStateEvents, type ActualStateStore } from './actual-state.js';
export { compareInstanceRows, instanceRows } from './instances.js';
export { HEARTBEAT_FLUSH_MS, INSTANCES_FLUSH_MS, type WriteFailures } from './store-writer.js';
export {
  DEFAULT_JUDGE_CONFIG,
  Judge,
  type JudgeConfig,
  type JudgeEvent,
  type JudgePoint,
  type JudgeStrategy,
  parseFunc,
} from './judge/index.js';
// issue 15: metric points in, stored, read back (monitor/metrics/; see README.md)
export { MetricsIngest, FLUSH_MS, type IngestCounters, type LatestPoint, type TakeOutcome } from './metrics/ingest.js';
export { StorePointFeed, MISSING_WAIT_MS } from './metrics/feed.js';
export { HistoryKeeper, StoreHistory, ROLLUP_EVERY_MS } from './metrics/history.js';
export { ARCHIVES, DEFAULT_RAW_RETENTION_SECONDS, MAX_POINTS } from './metrics/archives.js';
export { instanceTagOf, reportPoints } from './metrics/scope.js';
export type * from './metrics/ports.js';
