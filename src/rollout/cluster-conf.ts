/**
 * `cluster.conf`, the seed's YAML: a `cluster:` section (name, version, env, jobs, policy), then
 * one section per job tag with its `host:` list, `version` and `policy` (over the cluster's;
 * the keys are in `deploy-policy.ts`). The zod schema is the format's documentation; unknown keys are
 * errors naming the key and the line.
 *
 * @example
 *   cluster:
 *     name: production-sd
 *     env: production
 *     jobs: [cop.xiaomi_owt.miliao_pdl.com_service.deploy-test_job.deploy-test]
 *     policy: { batch: "1, 50%", pause: 30s }
 *   cop.xiaomi_owt.miliao_pdl.com_service.deploy-test_job.deploy-test:
 *     host: [web-1, web-2]
 *     version: 15b2980f8
 *
 * Instead of `version`, `pkg_url` may name a package built elsewhere (docs/import.md): a deploy
 * without a version imports it (once) and deploys it.
 *
 * Instead of `host:`, a job section may give `count:` (issue 18): the scheduler places that many
 * instances, with `cpu`, `memory` (`256M`), `constraint` (a list: `rack!=r3`, `zone=a`),
 * `distinct_hosts`, and `spread: LABEL` or `binpack: true` (api/schedule-spec.ts checks them).
 */
import { parseDocument, isMap, isScalar, LineCounter, type Document } from 'yaml';
import { z } from 'zod';
import { NoopsError } from '../errors/index.js';
import { checkScheduleSpec, type ScheduleInputKey, type ScheduleSpec } from '../api/index.js';
import { PolicySchema, type PolicyInput } from './deploy-policy.js';

export { PolicySchema };

const NAME = /^[a-z0-9][a-z0-9-]*$/;
const HOST = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/;
const VERSION = /^[0-9a-f]{7,40}$/;
/** A package's URL: http(s) only (the server fetches it; docs/import.md). */
const PKG_URL = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      return ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      return false;
    }
  }, 'a pkg_url is an http:// or https:// URL of a release package');

const ClusterSection = z
  .object({
    name: z.string().regex(NAME, 'a cluster name is lower-case letters, digits and "-"'),
    version: z.string().regex(VERSION, 'a version is a 7 to 40 character commit hash').optional(),
    env: z.string().min(1).optional(),
    pkg_url: PKG_URL.optional(),
    jobs: z.array(z.string().min(1)).min(1, 'name at least one job tag'),
    policy: PolicySchema.optional(),
  })
  .strict();

const JobSection = z
  .object({
    host: z.array(z.string().regex(HOST, 'a host name is letters, digits, "." and "-"')).min(1, 'list at least one host').optional(),
    // a count instead of hosts (issue 18): checked by api's checkScheduleSpec, which names the key
    count: z.unknown().optional(),
    cpu: z.unknown().optional(),
    memory: z.unknown().optional(),
    constraint: z.unknown().optional(),
    distinct_hosts: z.unknown().optional(),
    spread: z.unknown().optional(),
    binpack: z.unknown().optional(),
    version: z.string().regex(VERSION, 'a version is a 7 to 40 character commit hash').optional(),
    pkg_url: PKG_URL.optional(),
    policy: PolicySchema.optional(),
  })
  .strict();

/** One job of the file: the tag as written (the caller resolves it) and what to set. */
export interface ClusterConfJob {
  /** the section's key: a job tag (the cluster's name is added) or a full cluster tag */
  tag: string;
  clusterName: string;
  /** the hosts of a hand-placed cluster ([] for a scheduled one: the scheduler places it) */
  hosts: string[];
  /** a scheduled cluster's spec (`count:` and its keys); absent: `host:` names the hosts */
  schedule?: ScheduleSpec;
  version: string | undefined;
  /** a package built elsewhere to deploy (imported on the first deploy), instead of a version */
  pkgUrl: string | undefined;
  env: string | undefined;
  policy: PolicyInput;
}

/** Parses and checks a cluster.conf; throws NOOPS_E_CLUSTER_CONF with file, line and key. */
export function parseClusterConf(text: string, file = 'cluster.conf'): ClusterConfJob[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw confError(file, e.linePos?.[0].line, '', e.message.split('\n')[0]!);
  }
  const root = doc.toJS() as unknown;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw confError(file, 1, '', 'the file must be a map with a "cluster:" section and one section per job tag');
  }
  const obj = root as Record<string, unknown>;
  const cluster = check(ClusterSection, obj.cluster, ['cluster'], doc, lines, file);
  const jobs: ClusterConfJob[] = [];
  for (const key of cluster.jobs) {
    if (!(key in obj)) {
      throw confError(
        file,
        lineOf(doc, lines, ['cluster', 'jobs']),
        'cluster.jobs',
        `job "${key}" has no section of its own; add "${key}:" with its "host:" list`,
      );
    }
  }
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'cluster') continue;
    if (!cluster.jobs.includes(key)) {
      throw confError(file, lineOf(doc, lines, [key]), key, `section "${key}" is not listed in cluster.jobs; list it there or remove it`);
    }
    const job = check(JobSection, value, [key], doc, lines, file);
    // the job's own key wins over the cluster's, whichever of the two it is
    const own = job.version !== undefined || job.pkg_url !== undefined;
    const version = own ? job.version : cluster.version;
    const pkgUrl = own ? job.pkg_url : cluster.pkg_url;
    if (version !== undefined && pkgUrl !== undefined) {
      const at = job.version !== undefined && job.pkg_url !== undefined ? [key] : ['cluster'];
      throw confError(
        file,
        lineOf(doc, lines, [...at, 'pkg_url']),
        `${at.join('.')}.pkg_url`,
        'give a version or a pkg_url, not both: the package names its own version',
      );
    }
    const schedule = scheduleOfSection(job, key, doc, lines, file);
    jobs.push({
      tag: key,
      clusterName: cluster.name,
      hosts: job.host ?? [],
      ...(schedule && { schedule }),
      version,
      pkgUrl,
      env: cluster.env,
      policy: { ...cluster.policy, ...job.policy },
    });
  }
  return jobs;
}

/** Each key of a job section that only a scheduled cluster takes, and the spec's key it is. */
const SCHEDULE_KEYS: Record<string, ScheduleInputKey> = {
  count: 'count',
  cpu: 'cpu',
  memory: 'memory',
  constraint: 'constraints',
  distinct_hosts: 'distinctHosts',
  spread: 'spread',
  binpack: 'binpack',
};

/**
 * A job section's schedule: `count:` and its keys, or none (`host:`); a section has one of the
 * two, and the error names the line of the key that is wrong.
 */
function scheduleOfSection(
  job: z.infer<typeof JobSection>,
  key: string,
  doc: Document,
  lines: LineCounter,
  file: string,
): ScheduleSpec | undefined {
  const given = Object.keys(SCHEDULE_KEYS).filter((k) => (job as Record<string, unknown>)[k] !== undefined);
  if (job.host !== undefined && job.count !== undefined)
    throw confError(
      file,
      lineOf(doc, lines, [key, 'count']),
      `${key}.count`,
      'give host: (the hosts) or count: (the scheduler places it), not both',
    );
  if (job.host === undefined && job.count === undefined)
    throw confError(
      file,
      lineOf(doc, lines, [key]),
      key,
      'give host: (a list of hosts) or count: (how many instances the scheduler places)',
    );
  if (job.count === undefined) {
    if (given.length === 0) return undefined;
    throw confError(
      file,
      lineOf(doc, lines, [key, given[0]!]),
      `${key}.${given[0]}`,
      `${given[0]} places a scheduled cluster: give count: instead of host:`,
    );
  }
  const r = checkScheduleSpec({
    count: job.count,
    cpu: job.cpu,
    memory: job.memory,
    constraints: job.constraint,
    distinctHosts: job.distinct_hosts,
    spread: job.spread,
    binpack: job.binpack,
  });
  if (r.ok) return r.spec;
  const confKey = Object.keys(SCHEDULE_KEYS).find((k) => SCHEDULE_KEYS[k] === r.key)!;
  throw confError(file, lineOf(doc, lines, [key, confKey]), `${key}.${confKey}`, r.message);
}

function check<S extends z.ZodType>(
  schema: S,
  value: unknown,
  at: (string | number)[],
  doc: Document,
  lines: LineCounter,
  file: string,
): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [...at, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0]!);
    message = `unknown key "${issue.keys[0]}"`;
  } else if (value === undefined && issue.path.length === 0) {
    message = `the "${at.join('.')}" section is missing`;
  }
  return (() => {
    throw confError(file, lineOf(doc, lines, path), path.join('.'), message);
  })();
}

/** The line of the deepest node that exists on the path (1-based). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 1; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    const pair = isMap(doc.getIn(path.slice(0, n - 1), true)) ? findKey(doc.getIn(path.slice(0, n - 1), true), path[n - 1]!) : undefined;
    const range = (pair ?? (node as { range?: [number, number, number] } | undefined))?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return undefined;
}

function findKey(map: unknown, key: string | number): { range?: [number, number, number] } | undefined {
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isScalar(item.key) && item.key.value === key) return item.key as { range?: [number, number, number] };
  }
  return undefined;
}

function confError(file: string, line: number | undefined, path: string, message: string): NoopsError {
  const where = line === undefined ? file : `${file}:${line}`;
  return new NoopsError('NOOPS_E_CLUSTER_CONF', `${where}: ${path ? `${path}: ` : ''}${message}`);
}
