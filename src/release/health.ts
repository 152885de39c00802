/**
 * Health checks: how noops.yaml writes them, how manifest.json stores them, and the default a
 * process gets when it names none.
 */
import { z } from 'zod';
import type { HealthCheck } from './types.js';
import { seconds } from './fields.js';
import { DEFAULT_HEALTH_INTERVAL_S, DEFAULT_HEALTH_TIMEOUT_S } from './health-check.js';

export { DEFAULT_HEALTH_INTERVAL_S, DEFAULT_HEALTH_TIMEOUT_S, healthCheckOf } from './health-check.js';

/**
 * noops.yaml's `healthcheck:` of a process: one of `http: /path`, `tcp: true` or
 * `command: ...`, with optional `interval` and `timeout` (seconds); or `none`.
 */
export const healthCheckYaml = z.union(
  [
    z.literal('none'),
    z
      .strictObject({
        /** GET this path on the process's port; 2xx or 3xx is healthy */
        http: z
          .string()
          .regex(/^\/[^\s]*$/, 'an http check is a path starting with "/", e.g. /healthz')
          .optional(),
        /** the process's port accepts connections */
        tcp: z.literal(true, { error: 'write "tcp: true"' }).optional(),
        /** a command that exits 0 when healthy, run in the release folder */
        command: z.string().min(1, 'a command cannot be empty').optional(),
        interval: seconds.refine((s) => s > 0, 'the interval must be more than 0').optional(),
        timeout: seconds.refine((s) => s > 0, 'the timeout must be more than 0').optional(),
      })
      .refine((h) => [h.http, h.tcp, h.command].filter((x) => x !== undefined).length === 1, {
        error: 'name exactly one check: http: /path, tcp: true or command: CMD',
      }),
  ],
  { error: 'expected none, or a mapping with one of http, tcp or command' },
);

/** noops.yaml's form into manifest.json's. */
export function healthCheckFromYaml(h: z.infer<typeof healthCheckYaml>): HealthCheck {
  if (h === 'none') return { type: 'none' };
  const timing = { interval: h.interval ?? DEFAULT_HEALTH_INTERVAL_S, timeout: h.timeout ?? DEFAULT_HEALTH_TIMEOUT_S };
  if (h.http !== undefined) return { type: 'http', path: h.http, ...timing };
  if (h.command !== undefined) return { type: 'command', command: h.command, ...timing };
  return { type: 'tcp', ...timing };
}

/** manifest.json's form. */
export const healthCheckManifest = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('tcp'), interval: seconds, timeout: seconds }),
  z.strictObject({ type: z.literal('http'), path: z.string().regex(/^\//), interval: seconds, timeout: seconds }),
  z.strictObject({ type: z.literal('command'), command: z.string().min(1), interval: seconds, timeout: seconds }),
  z.strictObject({ type: z.literal('none') }),
]);
