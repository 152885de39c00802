/**
 * `noops.yaml`: the service manifest at the root of a repository. This schema is its reference;
 * docs/package-spec.md shows it with an example. Every key is optional, and unknown keys are
 * errors that name the key path and the line.
 */
import { z } from 'zod';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { NoopsError, type ErrorCode } from '../errors/index.js';
import { durationSeconds, envMap, port, processName, runtimeName, runtimeVersionInput, seconds, stopSignal, yamlEnvMap } from './fields.js';
import { healthCheckYaml } from './health.js';
import { driverField, imageField, volumesField, yamlResources } from './containers-yaml.js';
import { formatPath, problemsOf, type Problem } from './issues.js';
import { yamlCrons, yamlProcessSupervision } from './supervision-yaml.js';
import { formatSelector, parseSelector, parseTag } from '../tree/index.js';

/**
 * What a service calls, for who depends on whom (docs/naming.md): a selector (`cop=acme,service=pay`)
 * or a tag (`cop.acme_owt.web_service.pay`), kept as the canonical selector of its pairs.
 */
const dependsOnEntry = z.string({ error: 'expected a selector (cop=acme,service=pay) or a tag' }).transform((text, ctx) => {
  try {
    const trimmed = text.trim();
    const selector = trimmed.includes('=')
      ? parseSelector(trimmed)
      : parseSelector(
          parseTag(trimmed)
            .pairs.map((p) => `${p.key}=${p.value}`)
            .join(','),
        );
    if (selector.pairs.length === 0) throw new Error('an empty selector would name every service; give the pairs of what it calls');
    return formatSelector(selector);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** One command, or a list run in order; always a list once parsed. */
const commands = z.preprocess(
  (value) => (typeof value === 'string' ? [value] : value),
  z.array(z.string({ error: 'expected a command string' }).min(1, 'a command cannot be empty'), {
    error: 'expected a command or a list of commands',
  }),
);

/** The keys of one process (noops.yaml, and the host-local watches file). */
export const yamlProcessShape = {
  /** run with `/bin/sh -c` in the release folder */
  command: z.string({ error: 'expected a command string' }).min(1, 'a command cannot be empty'),
  /** a number: fixed; 'auto': the agent picks one; null: none. Default: 'auto' for web, else null */
  port: port.optional(),
  /** extra environment for this process, over the top-level env */
  env: envMap.optional(),
  /** default SIGTERM */
  stop_signal: stopSignal.optional(),
  /** seconds between the stop signal and SIGKILL; default 10 */
  stop_timeout: seconds.optional(),
  /** seconds a new process must stay up to count as started; default 2 */
  start_grace: seconds.optional(),
  /** restart, stop_command, user, flapping, logs, conditions: see supervision-yaml.ts */
  ...yamlProcessSupervision,
};

/** One process: a command string, or the full form. Always the full form once parsed. */
const processEntry = z.preprocess(
  (value) => (typeof value === 'string' ? { command: value } : value),
  z.strictObject(
    {
      ...yamlProcessShape,
      /** extra environment for this process, over the top-level env; a value may be `{ secret: NAME }` */
      env: yamlEnvMap.optional(),
      /** how its agent checks it is healthy; default: tcp for a process with a port, else none */
      healthcheck: healthCheckYaml.optional(),
      /** container driver: this process's own limits, over the top-level `resources` */
      resources: yamlResources.optional(),
    },
    { error: 'expected a command, or a mapping with a "command" key' },
  ),
);

/**
 * A path left out of the package, relative to the repository root: `docs`, `*.md`,
 * `test/**`, `**\/*.log`. `*` and `?` stay within one path segment, `**` crosses segments, and a
 * directory that matches takes its whole content with it.
 */
const excludePattern = z
  .string({ error: 'expected a path' })
  .min(1, 'a path cannot be empty')
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
    error: 'a path in exclude is relative to the repository root and has no ".." in it',
  });

/** Runtimes by name: `{ node: "18.20.4" }`; a version may be a prefix (`"18"`) the build resolves. */
const runtimes = z.record(runtimeName, runtimeVersionInput, {
  error: 'expected a mapping of runtime names to versions, e.g. { node: "18.20.4" }',
});

/** The schema of noops.yaml. */
export const noopsYamlSchema = z.strictObject(
  {
    /** shell commands that build the service in its checkout; replace the detected ones */
    build: commands.optional(),
    /** shell commands run after the build; one failing means no release */
    test: commands.optional(),
    /**
     * environment for every process (not for the build); a value may be `{ secret: NAME }`, a
     * secret the server keeps (`noops secret set NAME --scope TAG`, see docs/secrets.md)
     */
    env: yamlEnvMap.optional(),
    /** the processes to run, by name; replace the Procfile and the detected ones */
    processes: z.record(processName, processEntry, { error: 'expected a mapping of process names' }).optional(),
    /** scheduled commands, by name: { schedule, command, timezone, timeout, env, user } */
    crons: yamlCrons.optional(),
    /** runtimes the build and every process use, by name: `{ node: "18.20.4" }` */
    runtimes: runtimes.optional(),
    /** runtimes only the build uses (a compiler, a build tool): `{ maven: "3.9" }` */
    build_runtimes: runtimes.optional(),
    /** paths left out of the package (.git always is) */
    exclude: z
      .preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(excludePattern, { error: 'expected a list of paths' }))
      .optional(),
    /**
     * commands the server runs against the freshly deployed instances (after the first batch
     * and after the last), in the release's files, with NOOPS_INSTANCES=host:port,...; one
     * failing fails the deploy
     */
    deploy_tests: commands.optional(),
    /** what the service calls, as selectors or tags: who depends on whom (docs/naming.md) */
    depends_on: z
      .preprocess(
        (value) => (typeof value === 'string' ? [value] : value),
        z.array(dependsOnEntry, { error: 'expected a list of selectors' }),
      )
      .optional(),
    /**
     * how long an instance's connections may take to end when it is drained from its load-balancer
     * pools before it stops (docs/balancers.md): `20s`; over the cluster's policy; default 30s
     */
    drain_timeout: durationSeconds.optional(),
    /** how the processes run: `process` (host processes) or `container` (docs/containers.md) */
    driver: driverField.optional(),
    /** container driver: a local image to run in instead of noops' base image (never pulled) */
    image: imageField.optional(),
    /** container driver: limits of every process, `{ cpu: 0.5, memory: 256M, pids: 200 }` */
    resources: yamlResources.optional(),
    /** container driver: named volumes kept per instance across releases, `[{ name: data, path: /data }]` */
    volumes: volumesField.optional(),
    // Room for later keys, each to be added here with its own schema and docs: rollout: the default policy
  },
  {
    error:
      'expected a mapping of keys (build, test, env, processes, crons, runtimes, build_runtimes, exclude, deploy_tests, depends_on, drain_timeout, driver, image, resources, volumes)',
  },
);

/** noops.yaml once parsed: commands are lists, processes are in their full form. */
export type NoopsYaml = z.infer<typeof noopsYamlSchema>;

/** One parsed process entry of noops.yaml. */
export type NoopsYamlProcess = NonNullable<NoopsYaml['processes']>[string];

/**
 * Parses and validates noops.yaml. Errors name the file, the line and the key path.
 *
 * @example
 *   parseNoopsYaml('processes:\n  web: node server.js\n').processes
 *   // { web: { command: 'node server.js' } }
 * @throws NoopsError NOOPS_E_MANIFEST, e.g. `noops.yaml:7: processes.web.port: expected a number, "auto" or null`
 */
export function parseNoopsYaml(text: string, file = 'noops.yaml'): NoopsYaml {
  return parseYamlWith(noopsYamlSchema, text, file, 'NOOPS_E_MANIFEST');
}

/**
 * Parses a YAML file and validates it with `schema`; problems become one error of `code`, a line
 * per problem: `FILE:LINE: key.path: message`. An empty file is an empty mapping.
 */
export function parseYamlWith<S extends z.ZodType>(schema: S, text: string, file: string, code: ErrorCode): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const line = e.linePos?.[0].line ?? 1;
      // the library's message ends in " at line L, column C:" and a snippet; we print our own
      const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      return `${file}:${line}: ${message}`;
    });
    throw new NoopsError(code, lines.join('\n'));
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new NoopsError(code, `${file}: ${(err as Error).message}`, { cause: err });
  }
  const result = schema.safeParse(value ?? {}); // an empty file is an empty manifest
  if (result.success) return result.data;
  const problems = problemsOf(result.error)
    .map((p) => ({ ...p, line: lineOf(doc, lineCounter, p) }))
    .sort((a, b) => a.line - b.line);
  const lines = problems.map((p) => `${file}:${p.line}: ${formatPath(p.path)}: ${p.message}`);
  throw new NoopsError(code, lines.join('\n'));
}

/** The line of the deepest node on the problem's path that the document has (1-based). */
function lineOf(doc: Document, counter: LineCounter, problem: Problem): number {
  const at = (range: readonly number[] | null | undefined, fallback: number): number => (range ? counter.linePos(range[0]).line : fallback);
  let node: unknown = doc.contents;
  let line = at((node as { range?: number[] } | null)?.range, 1);
  for (const [i, key] of problem.path.entries()) {
    const last = i === problem.path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      const keyLine = at(isScalar(pair.key) ? pair.key.range : undefined, line);
      if (last && problem.atKey) return keyLine;
      node = pair.value;
      line = at((node as { range?: number[] } | null)?.range, keyLine);
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (node === undefined) break;
      line = at((node as { range?: number[] } | null)?.range, line);
    } else break;
  }
  return line;
}
