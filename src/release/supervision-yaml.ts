/**
 * The supervision keys of noops.yaml, in the form people write (god's words, snake_case, sizes
 * with units, one key naming each condition's kind), and their translation into manifest.json's
 * form with every default filled.
 */
import { z } from 'zod';
import { scheduleProblem } from './schedule.js';
import { envMap, processName, seconds } from './fields.js';
import {
  DEFAULT_CHECK_INTERVAL,
  DEFAULT_CHECK_OF,
  DEFAULT_CHECK_TIMEOUT,
  DEFAULT_CHECK_TIMES,
  DEFAULT_CRON_TIMEOUT,
  DEFAULT_FLAPPING,
  DEFAULT_LOGS,
  byteSize,
  restartPolicy,
  userName,
} from './supervision.js';
import type { CronSpecManifest, ManifestCondition, ManifestFlapping, ManifestLogs } from './types.js';

const count = z
  .number({ error: 'expected a whole number' })
  .int('expected a whole number')
  .min(1, 'expected at least 1')
  .max(1000, 'expected at most 1000');
const positive = seconds.refine((s) => s > 0, 'expected more than 0 seconds');
const codes = z.preprocess(
  (v) => (typeof v === 'number' ? [v] : v),
  z.array(z.number().int().min(100).max(599), { error: 'expected an HTTP status code or a list of them' }).min(1),
);

/** `times: 3` (3 in a row) or `times: [3, 5]` (3 of the last 5), as god writes it. */
const times = z
  .union([count, z.tuple([count, count])], { error: 'expected N, or [N, M] for N of the last M checks' })
  .refine((t) => typeof t === 'number' || t[0] <= t[1], 'in [N, M], N cannot be more than M');

/** The keys every condition may have. */
const common = {
  /** seconds between checks; default 10 */
  interval: positive.optional(),
  /** fires after N failed checks in a row, or [N, M]: N of the last M; default [3, 5] */
  times: times.optional(),
  /** restart (default) or event (record only) */
  action: z.enum(['restart', 'event'], { error: 'expected restart or event' }).optional(),
};

/** `tcp: true` (the process's port), `tcp: 8080`, `tcp: "db.local:5432"`. */
const tcpTarget = z.union(
  [z.literal(true), z.number().int().min(1).max(65535), z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected HOST:PORT')],
  { error: 'expected true (the process\'s own port), a port number, or "HOST:PORT"' },
);

const kinds = {
  memory: z.strictObject({ memory: byteSize, ...common }),
  cpu: z.strictObject({
    cpu: z.number({ error: 'expected a percentage of one core, e.g. 90 (200 = two cores)' }).positive().max(100_000),
    ...common,
  }),
  http: z.strictObject({
    http: z.string().refine((s) => s.startsWith('/') || /^https?:\/\//.test(s), "expected a path on the process's port (/health) or a URL"),
    code_is: codes.optional(),
    code_is_not: codes.optional(),
    timeout: positive.optional(),
    ...common,
  }),
  tcp: z.strictObject({ tcp: tcpTarget, timeout: positive.optional(), ...common }),
  command: z.strictObject({ command: z.string().min(1, 'a command cannot be empty'), timeout: positive.optional(), ...common }),
} as const;
type Kind = keyof typeof kinds;
const KIND_NAMES = Object.keys(kinds) as Kind[];

/** One condition: a mapping with exactly one of memory, cpu, http, tcp, command. */
export const yamlCondition = z.unknown().transform((value, ctx): ManifestCondition => {
  const found = typeof value === 'object' && value !== null && !Array.isArray(value) ? KIND_NAMES.filter((k) => k in value) : [];
  if (found.length !== 1) {
    ctx.addIssue({ code: 'custom', message: `expected a mapping with one of ${KIND_NAMES.join(', ')} (e.g. "memory: 500MB")` });
    return z.NEVER;
  }
  const kind = found[0]!;
  const r = kinds[kind].safeParse(value);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }
  return toCondition(kind, r.data as Record<string, unknown>);
});

function toCondition(kind: Kind, c: Record<string, unknown>): ManifestCondition {
  const t = c.times as number | [number, number] | undefined;
  const [n, m] = t === undefined ? [DEFAULT_CHECK_TIMES, DEFAULT_CHECK_OF] : typeof t === 'number' ? [t, t] : t;
  const base = {
    interval: (c.interval as number | undefined) ?? DEFAULT_CHECK_INTERVAL,
    times: n,
    of: m,
    action: (c.action as 'restart' | 'event' | undefined) ?? 'restart',
  };
  const timeout = (c.timeout as number | undefined) ?? DEFAULT_CHECK_TIMEOUT;
  switch (kind) {
    case 'memory':
      return { kind, above: c.memory as number, ...base };
    case 'cpu':
      return { kind, above: c.cpu as number, ...base };
    case 'http': {
      const target = c.http as string;
      const isPath = target.startsWith('/');
      return {
        kind,
        path: isPath ? target : null,
        url: isPath ? null : target,
        codeIs: (c.code_is as number[] | undefined) ?? null,
        codeIsNot: (c.code_is_not as number[] | undefined) ?? null,
        timeout,
        ...base,
      };
    }
    case 'tcp': {
      const target = c.tcp as true | number | string;
      if (typeof target === 'string') {
        const at = target.lastIndexOf(':');
        return { kind, host: target.slice(0, at), port: Number(target.slice(at + 1)), timeout, ...base };
      }
      return { kind, host: '127.0.0.1', port: target === true ? null : target, timeout, ...base };
    }
    case 'command':
      return { kind, command: c.command as string, timeout, ...base };
  }
}

/** god's flapping keys, or `false` for never flapping. Missing keys take the defaults. */
const yamlFlapping = z.union(
  [
    z.literal(false),
    z.strictObject({
      times: count.optional(),
      within: positive.optional(),
      retry_in: seconds.optional(),
      retry_times: z.number().int().min(0).max(1000).optional(),
      retry_within: positive.optional(),
    }),
  ],
  { error: 'expected false, or a mapping of times, within, retry_in, retry_times, retry_within' },
);

const yamlLogs = z.strictObject(
  { max_size: byteSize.optional(), keep: z.number().int().min(0).max(100).optional() },
  { error: 'expected a mapping of max_size and keep' },
);

/** The supervision keys of one process in noops.yaml. */
export const yamlProcessSupervision = {
  /** always (default), on-failure, never */
  restart: restartPolicy.optional(),
  /** a command run to stop the process instead of the stop signal */
  stop_command: z.string().min(1, 'a command cannot be empty').optional(),
  /** run as this user (the agent must run as root) */
  user: userName.optional(),
  flapping: yamlFlapping.optional(),
  logs: yamlLogs.optional(),
  conditions: z.array(yamlCondition, { error: 'expected a list of conditions' }).optional(),
};

/** The keys of one cron in noops.yaml: `name: { schedule, command, timezone, timeout, env, user }`. */
export const yamlCronShape = {
  schedule: z.string({ error: 'expected a cron schedule, e.g. "*/5 * * * *"' }).min(1),
  command: z.string({ error: 'expected a command string' }).min(1, 'a command cannot be empty'),
  timezone: z.string().min(1).optional(),
  timeout: seconds.optional(),
  env: envMap.optional(),
  user: userName.optional(),
};

/** Checks a cron's schedule with croner, before any build step runs (not when the manifest is written). */
export function checkCronSchedule(c: { schedule: string; timezone?: string | undefined }, ctx: z.RefinementCtx): void {
  const problem = scheduleProblem(c.schedule, c.timezone);
  if (problem !== null)
    ctx.addIssue({
      code: 'custom',
      path: [c.timezone !== undefined && /time zone/i.test(problem) ? 'timezone' : 'schedule'],
      message: problem,
    });
}

export const yamlCron = z
  .strictObject(yamlCronShape, { error: 'expected a mapping with schedule and command' })
  .superRefine(checkCronSchedule);

export const yamlCrons = z.record(processName, yamlCron, { error: 'expected a mapping of cron names' });

/** noops.yaml's flapping in manifest form. */
export function toFlapping(f: z.infer<typeof yamlFlapping> | undefined): ManifestFlapping | false | undefined {
  if (f === undefined || f === false) return f;
  return {
    times: f.times ?? DEFAULT_FLAPPING.times,
    within: f.within ?? DEFAULT_FLAPPING.within,
    retryIn: f.retry_in ?? DEFAULT_FLAPPING.retryIn,
    retryTimes: f.retry_times ?? DEFAULT_FLAPPING.retryTimes,
    retryWithin: f.retry_within ?? DEFAULT_FLAPPING.retryWithin,
  };
}

/** noops.yaml's logs in manifest form. */
export function toLogs(l: z.infer<typeof yamlLogs> | undefined): ManifestLogs | undefined {
  return l === undefined ? undefined : { maxSize: l.max_size ?? DEFAULT_LOGS.maxSize, keep: l.keep ?? DEFAULT_LOGS.keep };
}

/** noops.yaml's crons in manifest form, in the order written. */
export function toCrons(crons: Record<string, z.infer<typeof yamlCron>> | undefined): CronSpecManifest[] {
  return Object.entries(crons ?? {}).map(([name, c]) => ({
    name,
    schedule: c.schedule,
    timezone: c.timezone ?? null,
    command: c.command,
    env: { ...(c.env ?? {}) },
    timeout: c.timeout ?? DEFAULT_CRON_TIMEOUT,
    user: c.user ?? null,
  }));
}
