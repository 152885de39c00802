/**
 * The health check a process gets when its manifest names none, without any schema library (the
 * agent uses it on every report; health.ts has the schemas).
 */
import type { HealthCheck, ProcessSpec } from './types.js';

/** Seconds between two checks: a TCP connect or a GET a second costs nothing, and a batch waits at most this long to notice. */
export const DEFAULT_HEALTH_INTERVAL_S = 1;
/** Seconds a check may take: a healthy local server answers in milliseconds; two tolerate a GC pause. */
export const DEFAULT_HEALTH_TIMEOUT_S = 2;

/**
 * The check a process gets: its own, else a TCP check of its port, else none.
 *
 * @example healthCheckOf({ ...spec, port: 'auto' }) // { type: 'tcp', interval: 1, timeout: 2 }
 */
export function healthCheckOf(spec: Pick<ProcessSpec, 'port' | 'healthcheck'>): HealthCheck {
  if (spec.healthcheck) return spec.healthcheck;
  if (spec.port === null) return { type: 'none' };
  return { type: 'tcp', interval: DEFAULT_HEALTH_INTERVAL_S, timeout: DEFAULT_HEALTH_TIMEOUT_S };
}
