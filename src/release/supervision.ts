/**
 * The supervision fields of a process and the crons of a release, as manifest.json holds them
 * (camelCase, every default filled). The defaults themselves are in defaults.ts (re-exported here).
 * noops.yaml's friendlier form is in supervision-yaml.ts and becomes this one at build time.
 */
import { z } from 'zod';
import { envMap, processName, seconds } from './fields.js';
import type { ManifestCondition } from './types.js';

export {
  DEFAULT_CHECK_INTERVAL,
  DEFAULT_CHECK_OF,
  DEFAULT_CHECK_TIMEOUT,
  DEFAULT_CHECK_TIMES,
  DEFAULT_CRON_TIMEOUT,
  DEFAULT_FLAPPING,
  DEFAULT_LOGS,
  DEFAULT_RESTART,
} from './defaults.js';

/** The largest size anyone means: 1 TiB. */
const MAX_BYTES = 1024 ** 4;
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * A size in bytes: a number, or a string with a unit, `500MB`, `1.5 GiB`, `64k` (K, M and G are
 * powers of 1024, with or without B or iB, as god's `500.megabytes`).
 *
 * @example parseSize('1.5 MB') // 1572864
 */
export function parseSize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 && value <= MAX_BYTES ? Math.round(value) : null;
  if (typeof value !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return n <= MAX_BYTES ? n : null;
}

const SIZE_ERROR = 'expected a size: bytes, or a number with a unit, e.g. 500MB, 1.5GiB, 64k';
/** A size (see parseSize); always bytes once parsed. */
export const byteSize = z.unknown().transform((v, ctx) => {
  const n = parseSize(v);
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: SIZE_ERROR });
    return z.NEVER;
  }
  return n;
});

export const restartPolicy = z.enum(['always', 'on-failure', 'never'], { error: 'expected always, on-failure or never' });
const count = z
  .number({ error: 'expected a whole number' })
  .int('expected a whole number')
  .min(1, 'expected at least 1')
  .max(1000, 'expected at most 1000');
const positiveSeconds = seconds.refine((s) => s > 0, 'expected more than 0 seconds');
const httpCode = z.number().int().min(100, 'an HTTP status code is 100 to 599').max(599, 'an HTTP status code is 100 to 599');

export const flappingSchema = z.strictObject({
  times: count,
  within: positiveSeconds,
  retryIn: seconds,
  retryTimes: z.number().int().min(0).max(1000),
  retryWithin: positiveSeconds,
});
export const logsSchema = z.strictObject({ maxSize: z.number().int().min(0).max(MAX_BYTES), keep: z.number().int().min(0).max(100) });

const base = { interval: positiveSeconds, times: count, of: count, action: z.enum(['restart', 'event']) };
export const conditionSchema = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('memory'), above: z.number().int().min(1).max(MAX_BYTES), ...base }),
      z.strictObject({ kind: z.literal('cpu'), above: z.number().positive().max(100_000), ...base }),
      z.strictObject({
        kind: z.literal('http'),
        path: z.string().startsWith('/').nullable(),
        url: z.url({ protocol: /^https?$/ }).nullable(),
        codeIs: z.array(httpCode).min(1).nullable(),
        codeIsNot: z.array(httpCode).min(1).nullable(),
        timeout: positiveSeconds,
        ...base,
      }),
      z.strictObject({
        kind: z.literal('tcp'),
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).nullable(),
        timeout: positiveSeconds,
        ...base,
      }),
      z.strictObject({ kind: z.literal('command'), command: z.string().min(1), timeout: positiveSeconds, ...base }),
    ],
    { error: 'expected a condition with kind memory, cpu, http, tcp or command' },
  )
  .superRefine((c, ctx) => {
    if (c.times > c.of)
      ctx.addIssue({ code: 'custom', path: ['times'], message: `expected at most ${c.of} (the number of checks looked at)` });
    if (c.kind === 'http' && (c.path === null) === (c.url === null))
      ctx.addIssue({ code: 'custom', path: ['path'], message: 'give a path or a url, not both' });
    if (c.kind === 'http' && c.codeIs !== null && c.codeIsNot !== null)
      ctx.addIssue({ code: 'custom', path: ['codeIsNot'], message: 'give codeIs or codeIsNot, not both' });
  }) satisfies z.ZodType<ManifestCondition>;

/** A user to run as: a name or a uid, as `getent passwd` takes it. */
export const userName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/, 'expected a user name or uid');

export const cronSchema = z.strictObject({
  name: processName,
  schedule: z.string().min(1, 'a schedule cannot be empty'),
  timezone: z.string().min(1).nullable(),
  command: z.string().min(1, 'a command cannot be empty'),
  env: envMap,
  timeout: seconds,
  user: userName.nullable(),
});

/** The supervision keys of a process in manifest.json (all optional: older releases lack them). */
export const processSupervisionShape = {
  restart: restartPolicy.optional(),
  stopCommand: z.string().min(1).nullable().optional(),
  user: userName.nullable().optional(),
  flapping: z.union([flappingSchema, z.literal(false)]).optional(),
  logs: logsSchema.optional(),
  conditions: z.array(conditionSchema).optional(),
};

/** Problems a condition has with its process: a check of "the process's port" needs one. */
export function conditionPortProblem(c: ManifestCondition, port: number | 'auto' | null): string | null {
  const needsPort = (c.kind === 'http' && c.path !== null) || (c.kind === 'tcp' && c.port === null);
  return needsPort && port === null
    ? `a ${c.kind} check of the process's own port needs the process to have a port (port: auto or a number)`
    : null;
}
