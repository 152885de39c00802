/**
 * The deploy policy: how a release rolls out over a cluster. The same keys are written in
 * cluster.conf (`policy:` of the cluster or of a job), set with `noops cluster set`, and
 * overridden for one deploy (`noops deploy --batch ...`). This schema is their reference.
 *
 * @example (cluster.conf)
 *   policy:
 *     batch: 1, 10%, 50%     # one host, then 10% of the cluster, then halves
 *     pause: 30s             # between batches
 *     healthy_for: 10s       # every check passing this long before a host counts
 *     timeout: 5m            # a batch that takes longer fails
 *     max_failures: 0        # hosts that may fail without failing the deploy
 *     on_failure: rollback   # or stop
 *     canary: true           # wait after the first batch for `noops deploy promote`
 *     canary_wait: 10m       # ... or go on by itself after this long
 *     drain_timeout: 20s     # how long a host's connections may take to end in its load-balancer pools
 *     driver: container      # run the jobs' processes in containers (unless a noops.yaml says `driver:`)
 */
import { z } from 'zod';
import { PROCESS_DRIVERS, parseDurationText } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import type { RolloutPolicy } from './types.js';

/** Every batch at once would be the old behaviour; one host first lets a bad release hurt one host. */
export const DEFAULT_BATCH: (number | string)[] = [1, '100%'];
/** Seconds a batch may take: long enough for a slow start, short enough that a dead host does not hold the cluster's lock for long. */
export const DEFAULT_TIMEOUT_S = 300;
/** Seconds healthy before a host counts. 0 like Kubernetes' minReadySeconds: a process already had to stay up its start_grace. */
export const DEFAULT_HEALTHY_FOR_S = 0;
/** Seconds the deploy tests may run: the same budget as a batch. */
export const DEFAULT_TEST_TIMEOUT_S = 300;
/** The longest duration any key takes: a day. */
const MAX_S = 86_400;

/** "90", "90s", "1.5m", "2h", "500ms" (or a number of seconds) into seconds; null if it is none of those. */
export function parseDuration(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw >= 0 ? raw : null;
  if (typeof raw !== 'string') return null;
  return parseDurationText(raw, { units: ['ms', 's', 'm', 'h'], bare: 's', answer: 's', trim: true, decimals: true }) ?? null;
}

const duration = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const s = parseDuration(raw);
  if (s === null || s > MAX_S) {
    ctx.addIssue({ code: 'custom', message: `"${String(raw)}" is not a duration of at most a day (e.g. 30, 30s, 5m, 1h)` });
    return z.NEVER;
  }
  return s;
});

const PERCENT_RE = /^(\d+(?:\.\d+)?)%$/;

/** One batch size: a host count (1 or more) or a percentage of the cluster ("25%"). */
function batchStep(raw: unknown): number | string | null {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw >= 1 ? raw : null;
  if (typeof raw !== 'string') return null;
  const s = raw.trim();
  if (/^\d+$/.test(s)) return Number(s) >= 1 ? Number(s) : null;
  const m = PERCENT_RE.exec(s);
  return m && Number(m[1]) > 0 && Number(m[1]) <= 100 ? `${Number(m[1])}%` : null;
}

/** A batch size, or a list of them: `3`, `"25%"`, `"1, 10%, 50%"`, `[1, "10%", "50%"]`. */
const batch = z.union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))]).transform((raw, ctx) => {
  const parts = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [raw];
  const steps = parts.map(batchStep);
  if (steps.length === 0 || steps.some((s) => s === null)) {
    ctx.addIssue({
      code: 'custom',
      message: `"${Array.isArray(raw) ? raw.join(', ') : String(raw)}" is not a batch size: give host counts or percentages, e.g. 2, 25% or "1, 10%, 50%"`,
    });
    return z.NEVER;
  }
  return steps as (number | string)[];
});

/** Failures tolerated: a host count (0 or more) or a percentage of the cluster. */
const maxFailures = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
  const s = String(raw).trim();
  if (/^\d+$/.test(s)) return Number(s);
  const m = PERCENT_RE.exec(s);
  if (m && Number(m[1]) <= 100) return `${Number(m[1])}%`;
  ctx.addIssue({ code: 'custom', message: `"${s}" is not a number of hosts or a percentage (e.g. 0, 2, 10%)` });
  return z.NEVER;
});

/** The policy keys, all optional (cluster.conf, `noops cluster set`, a deploy's overrides). */
export const PolicySchema = z
  .object({
    /** batch sizes in order, the last repeating: `1, 10%, 50%`; default `1, 100%` */
    batch: batch.optional(),
    /** pause between two batches; default 0 */
    pause: duration.optional(),
    /** time every health check of a host must pass before it counts; default 0 */
    healthy_for: duration.optional(),
    /** time a batch may take; default 5m */
    timeout: duration.optional(),
    /** hosts that may fail without failing the deploy (count or %); default 0 */
    max_failures: maxFailures.optional(),
    /** `rollback` (default): send every changed host back; `stop`: leave the hosts as they are */
    on_failure: z.enum(['stop', 'rollback'], { error: 'on_failure is "stop" or "rollback"' }).optional(),
    /** the first batch is a canary that waits for `noops deploy promote`; default false */
    canary: z.boolean({ error: 'canary is true or false' }).optional(),
    /** a canary goes on by itself after this long; default: it waits for a person */
    canary_wait: duration.optional(),
    /** time the deploy tests may run; default 5m */
    test_timeout: duration.optional(),
    /** time a host's connections may take to end when it is drained from its load-balancer pools, when the release's noops.yaml does not say; default 30s */
    drain_timeout: duration.optional(),
    /** how the jobs' processes run when the release's noops.yaml does not say: `process` (default) or `container` (docs/containers.md, "Network and addresses") */
    driver: z.enum(PROCESS_DRIVERS, { error: `driver is one of ${PROCESS_DRIVERS.join(', ')}` }).optional(),
  })
  .strict();

/** Policy keys as parsed: durations in seconds, batch sizes as a list. */
export type PolicyInput = z.infer<typeof PolicySchema>;

/**
 * Validates policy keys from the API or a flag (cluster.conf has its own line-numbered errors).
 *
 * @example parsePolicy({ batch: '1, 50%', pause: '10s' }, 'deploy') // { batch: [1, '50%'], pause: 10 }
 * @throws NoopsError NOOPS_E_INPUT naming the key
 */
export function parsePolicy(raw: unknown, what: string): PolicyInput {
  const r = PolicySchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = issue.code === 'unrecognized_keys' ? issue.keys[0]! : issue.path.map(String).join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown policy key "${key}" (known: ${Object.keys(PolicySchema.shape).join(', ')})`
      : `policy ${key}: ${issue.message}`;
  throw new NoopsError('NOOPS_E_INPUT', `${what}: ${message}`);
}

/**
 * The policy in force: defaults, then each layer over the previous (the cluster's, then the
 * deploy's overrides). Layers are already parsed.
 *
 * @example resolvePolicy({ batch: [2] }, { pause: 5 }).pause // 5
 */
export function resolvePolicy(...layers: (PolicyInput | undefined)[]): RolloutPolicy {
  const p: RolloutPolicy = {
    batch: DEFAULT_BATCH,
    pause: 0,
    healthy_for: DEFAULT_HEALTHY_FOR_S,
    timeout: DEFAULT_TIMEOUT_S,
    max_failures: 0,
    on_failure: 'rollback',
    canary: false,
    canary_wait: null,
    test_timeout: DEFAULT_TEST_TIMEOUT_S,
  };
  for (const layer of layers) {
    if (layer) Object.assign(p, Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)));
  }
  return { ...p, batch: [...p.batch] };
}

/** A count or a percentage of `total`, rounded up (sizes) or down (tolerances). */
export function amountOf(step: number | string, total: number, round: 'up' | 'down'): number {
  if (typeof step === 'number') return step;
  const pct = Number(step.slice(0, -1));
  const exact = (total * pct) / 100;
  return round === 'up' ? Math.ceil(exact - 1e-9) : Math.floor(exact + 1e-9);
}

/** The most hosts that may fail without failing the deploy. */
export function toleratedFailures(policy: RolloutPolicy, total: number): number {
  return amountOf(policy.max_failures, total, 'down');
}
