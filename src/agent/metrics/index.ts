/**
 * What the agent measures and takes in: the host's base metrics under Open-Falcon's names, the
 * instances' `common.service*`, the Falcon push API on 127.0.0.1:1988, and the bounded queue the
 * reports carry them in. See docs/monitoring.md#metrics-from-the-agents.
 */
export {
  AgentMetrics,
  DEFAULT_METRICS_EVERY_MS,
  parseMetricsEvery,
  POINT_BYTES_PER_REPORT,
  POINTS_PER_REPORT,
  type AgentMetricsOptions,
} from './agent-metrics.js';
export { HostCollector, type Collected, type HostCollectorOptions } from './host-collector.js';
export { PointQueue, QUEUE_MAX_POINTS, type PointBatch } from './point-queue.js';
export { DEFAULT_PUSH_LISTEN, PushServer, PUSH_MAX_BYTES, pushListenFlag } from './push-server.js';
