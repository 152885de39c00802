/**
 * The report's schema: what `POST /agent/report` accepts, checked at the edge. The schema is the
 * source of the report's types (`z.infer`); the wire types the agent builds (`AgentReport`,
 * `ProcessReport`, ... in api/types.ts) are tied to them in `shapes.test.ts`, which does not
 * compile when the two drift. A second, named entry of monitor/ (it loads zod): the route imports
 * it, the module's light surface (`index.ts`) does not.
 *
 * @example
 *   import { ReportBody } from '../../monitor/report-schema.js';
 *   const report = parseBody(ReportBody, req.body, 'report'); // a ReportBody, or NOOPS_E_INPUT
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_METRIC_AND_TAGS } from '../api/index.js';
import { isCanonicalTag } from '../tree/index.js';

/**
 * Tags already found canonical: every report repeats the same few per host, and parsing each
 * again on every heartbeat showed in the server's CPU per beat. Bounded: emptied when full.
 */
const canonical = new Set<string>();
/** The most tags remembered as canonical: about one per instance of a 10,000-host fleet, a few MB. */
const MAX_CANONICAL_REMEMBERED = 100_000;

function isKnownCanonical(t: string): boolean {
  if (canonical.has(t)) return true;
  if (!isCanonicalTag(t)) return false;
  if (canonical.size >= MAX_CANONICAL_REMEMBERED) canonical.clear();
  canonical.add(t);
  return true;
}

/**
 * A tag as agents report it: canonical (root-first, as the server sent it). A report with any
 * other text is refused whole: one bad tag once broke `GET /tree` for everyone.
 */
const ReportedTag = z.string().max(512).refine(isKnownCanonical, 'not a canonical tag (key.value pairs joined by "_", root first)');

/** The largest number a 32-bit integer column holds. */
const INT32_MAX = 2 ** 31 - 1;

/** Free text an agent reports (an error, a message): bounded. */
const Text = z.string().max(64 * 1024);

/** One process as the agent reports it (api/types.ts `ProcessReport` documents each field). */
export const ProcessReport = z
  .object({
    tag: ReportedTag,
    process: z.string().max(128),
    version: z.string().max(64),
    state: z.string().max(32),
    // stored in 32-bit integer columns (PostgreSQL): a larger number failed every host's batched write
    pid: z.number().int().min(0).max(INT32_MAX).nullable(),
    port: z.number().int().min(0).max(65_535).nullable(),
    restarts: z.number().int().min(0).max(INT32_MAX),
    startedAt: z.string().max(64).nullable(),
    error: Text.nullable(),
    health: z.enum(['starting', 'healthy', 'unhealthy']).optional(),
    healthySince: z.string().nullable().optional(),
    healthError: z.string().nullable().optional(),
    downloaded: z.boolean().optional(),
    container: z.string().max(128).nullable().optional(),
    // what naming and the load balancers register: an IP address, or none ('' as an engine says it: none)
    address: z
      .string()
      .max(64)
      .refine((a) => a === '' || isIP(a) !== 0, 'not an IP address')
      .transform((a) => (a === '' ? null : a))
      .nullable()
      .optional(),
    oom: z.boolean().optional(),
  })
  .strict();
/** One process as the agent reports it. */
export type ProcessReport = z.infer<typeof ProcessReport>;

/** A desired release the agent could not bring up (the old one keeps running). */
export const FailureReport = z.object({ tag: ReportedTag, version: z.string().max(64), error: Text }).strict();
export type FailureReport = z.infer<typeof FailureReport>;

/** The host's platform and the runtimes installed on it. */
export const RuntimesReport = z
  .object({
    platform: z.string().max(64),
    canInstall: z.boolean(),
    reason: z.string().max(4096).nullable(),
    installed: z.array(z.string().max(256)).max(10_000),
  })
  .strict();
export type RuntimesReport = z.infer<typeof RuntimesReport>;

/**
 * One Open-Falcon point: a host's or an instance's metric, or one pushed to the agent's `/v1/push`.
 * The one check of a report's points (the server does not check them again as a push): exact types
 * and no unknown field, and every rule of Falcon's push (api/falcon.ts `checkFalconPush`): an
 * endpoint and a metric, not `kernel.hostname`, a step of at least 1 s, metric and tags of at most
 * MAX_METRIC_AND_TAGS characters. A report with a point that breaks one is refused whole (400);
 * the agent drops that batch of points and sends the next report without it.
 */
export const Metric = z
  .object({
    endpoint: z.string().min(1),
    metric: z
      .string()
      .min(1)
      .refine((m) => m !== 'kernel.hostname', 'kernel.hostname is not a number (Falcon drops it too)'),
    value: z.number(),
    timestamp: z.number().int(),
    step: z.number().int().min(1, 'step must be a whole number of seconds above 0'),
    counterType: z.enum(['GAUGE', 'COUNTER', 'DERIVE']),
    tags: z.string(),
  })
  .strict()
  .refine((m) => m.metric.length + m.tags.length <= MAX_METRIC_AND_TAGS, {
    message: `metric and tags longer than ${MAX_METRIC_AND_TAGS}`,
    path: ['tags'],
  });
export type Metric = z.infer<typeof Metric>;

/** Something that happened to a watch on the host. */
export const Event = z
  .object({
    seq: z.number().int(),
    at: z.string().max(64),
    tag: ReportedTag.nullable(),
    name: z.string().max(128),
    kind: z.string().max(64),
    message: Text,
  })
  .strict();
export type Event = z.infer<typeof Event>;

/** A scheduled command of an instance, with its last run. */
export const Cron = z
  .object({
    tag: ReportedTag,
    name: z.string().max(128),
    schedule: z.string().max(256),
    running: z.boolean(),
    nextRunAt: z.string().max(64).nullable(),
    lastRun: z.object({ startedAt: z.string(), endedAt: z.string(), result: z.string(), message: z.string() }).strict().nullable(),
    runs: z.number().int(),
    skipped: z.number().int(),
  })
  .strict();
export type Cron = z.infer<typeof Cron>;

/** Whether the agent applies the server's answers. */
export const TrustReport = z
  .object({
    state: z.enum(['accepted', 'refused']),
    server: z.string().max(64).nullable(),
    generation: z.number().int(),
    reason: z.string().max(4096).optional(),
    refusal: z.string().max(64).optional(),
    since: z.string().max(64).optional(),
  })
  .strict();
export type TrustReport = z.infer<typeof TrustReport>;

/** What the host offers the scheduler (issue 18): cores, bytes of memory and disk, free ports. */
export const CapacityReport = z
  .object({
    cpu: z.number().min(0).max(1e6),
    memory: z
      .number()
      .min(0)
      .max(2 ** 62),
    disk: z
      .number()
      .min(0)
      .max(2 ** 62),
    freePorts: z.number().int().min(0).max(65535),
  })
  .strict();
export type CapacityReport = z.infer<typeof CapacityReport>;

/** The whole report: the heartbeat, with the host's actual state. Unknown fields are refused. */
export const ReportBody = z
  .object({
    processes: z.array(ProcessReport),
    failures: z.array(FailureReport),
    generation: z.number().int(),
    metrics: z.array(Metric).optional(),
    events: z.array(Event).optional(),
    crons: z.array(Cron).optional(),
    runtimes: RuntimesReport.optional(),
    trust: TrustReport.optional(),
    capacity: CapacityReport.optional(),
    // the report's place among the agent's own (api/types.ts AgentReport.order)
    order: z
      .object({ boot: z.string().min(1).max(64), seq: z.number().int().min(0) })
      .strict()
      .optional(),
  })
  .strict();
/** The whole report, as the server takes it. */
export type ReportBody = z.infer<typeof ReportBody>;
