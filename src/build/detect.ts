/**
 * Stack detection, the way buildpacks do it, as a pure function: what to run to build and test a
 * checkout, which processes its release runs, and which runtimes both need. noops.yaml, where it
 * says something, wins. The commands of each stack are in stacks.ts.
 */
import { NoopsError } from '../errors/index.js';
import {
  parseProcfile,
  processDefaults,
  splitEnv,
  toCrons,
  toFlapping,
  toLogs,
  toResources,
  toVolumes,
  type CronSpecManifest,
  type ManifestResources,
  type ManifestVolume,
  type ReleaseManifest,
  type NoopsYaml,
  type ProcessSpec,
} from '../release/index.js';
import { healthCheckFromYaml } from '../release/index.js';
import * as S from './stacks.js';

export { NPM_BUILD, NPM_CI, NPM_INSTALL, NPM_START } from './stacks.js';

/** What detection looks at, read from the checkout's root by the caller. */
export interface DetectInput {
  /** the Procfile's text, if there is one */
  procfile?: string;
  /** package.json, parsed, if there is one */
  packageJson?: unknown;
  /** package-lock.json or npm-shrinkwrap.json exists */
  hasLock: boolean;
  /** noops.yaml, parsed, if there is one */
  noopsYaml?: NoopsYaml;
  /** build.sh at the root, and whether it is executable */
  buildSh?: { executable: boolean };
  /** pom.xml at the root; `tests`: src/test exists */
  maven?: { tests: boolean };
  /** go.mod at the root */
  goMod?: boolean;
  /** index.html at the root */
  indexHtml?: boolean;
}

/** How to build a checkout and what its release runs. */
export interface BuildPlan {
  /** what decided the plan: parts of {@link STACK_PARTS}, joined by `+` */
  stack: string;
  /** shell commands, in order */
  build: string[];
  /** shell commands run after the build */
  test: string[];
  /** environment of every process */
  env: Record<string, string>;
  /** environment of every process from secrets, by the secret's name (noops.yaml's `{ secret: NAME }` values) */
  secretEnv: Record<string, string>;
  processes: ProcessSpec[];
  /** noops.yaml's crons */
  crons: CronSpecManifest[];
  /** noops.yaml's exclude patterns */
  exclude: string[];
  /** runtimes of the build and of every process, name -> wanted version (exact, a prefix, or `*`) */
  runtimes: Record<string, string>;
  /** runtimes of the build only */
  buildRuntimes: Record<string, string>;
  /** true when the build must write the static file server into the package */
  staticServer: boolean;
  /** noops.yaml's deploy tests (none: empty) */
  deployTests: string[];
  /** noops.yaml's depends_on, canonical selectors (absent: none declared) */
  dependsOn?: string[];
  /** noops.yaml's drain_timeout, seconds (absent: not set) */
  drainTimeout?: number;
  /** noops.yaml's container keys (absent: not set; docs/containers.md) */
  driver?: ReleaseManifest['driver'];
  image?: string;
  resources?: ManifestResources;
  volumes?: ManifestVolume[];
}

/** The parts of a stack name, in the order they are written. */
export const STACK_PARTS = ['manifest', 'shell', 'node', 'maven', 'go', 'static', 'procfile'] as const;
type Part = (typeof STACK_PARTS)[number];

/**
 * Decides the build plan. For each of build, test and processes, the first source that has it
 * decides (docs/package-spec.md has the table):
 * - build: noops.yaml `build`; build.sh; package.json (`npm ci`/`npm install`, then
 *   `npm run build`); pom.xml (`mvn package`); go.mod (`go build`); else nothing
 * - test: noops.yaml `test`; `mvn test` when Maven built and `src/test` exists; else nothing
 * - processes: noops.yaml `processes`; the Procfile; `npm start`; the Maven jar; the Go binary;
 *   a static file server for an `index.html` at the root
 * - runtimes: noops.yaml's, plus what the stack needs and noops.yaml does not name (the newest
 *   known jdk and maven for Maven, go for Go)
 *
 * @example
 *   detectStack({ procfile: 'web: node server.js\n', hasLock: false }).stack // 'procfile'
 * @throws NoopsError NOOPS_E_NO_PROCESSES when no source names a process; NOOPS_E_MANIFEST for a bad Procfile or package.json
 */
export function detectStack(files: DetectInput): BuildPlan {
  const yaml = files.noopsYaml;
  const pkg = files.packageJson === undefined ? undefined : readPackageJson(files.packageJson);
  const used = new Set<Part>();
  if (yaml) used.add('manifest');

  let build: string[] = [];
  let test: string[] = [...(yaml?.test ?? [])];
  let builtBy: Part | undefined;
  if (yaml?.build) build = [...yaml.build];
  else if (files.buildSh) {
    build = [files.buildSh.executable ? S.BUILD_SH_EXEC : S.BUILD_SH_SH];
    builtBy = 'shell';
  } else if (pkg) {
    build = [files.hasLock ? S.NPM_CI : S.NPM_INSTALL, ...(pkg.scripts.build !== undefined ? [S.NPM_BUILD] : [])];
    builtBy = 'node';
  } else if (files.maven) {
    build = [S.MVN_PACKAGE];
    if (!yaml?.test && files.maven.tests) test = [S.MVN_TEST];
    builtBy = 'maven';
  } else if (files.goMod) {
    build = [S.GO_BUILD];
    builtBy = 'go';
  }
  if (builtBy) used.add(builtBy);

  let processes: ProcessSpec[] = [];
  let staticServer = false;
  const web = (part: Part, command: string): void => {
    processes = [processDefaults('web', { command })];
    used.add(part);
  };
  if (yaml?.processes) {
    processes = Object.entries(yaml.processes).map(([name, p]) =>
      processDefaults(name, {
        command: p.command,
        port: p.port,
        ...splitEnv(p.env),
        stopSignal: p.stop_signal,
        stopTimeout: p.stop_timeout,
        startGrace: p.start_grace,
        restart: p.restart,
        stopCommand: p.stop_command,
        user: p.user,
        flapping: toFlapping(p.flapping),
        logs: toLogs(p.logs),
        conditions: p.conditions,
        healthcheck: p.healthcheck === undefined ? undefined : healthCheckFromYaml(p.healthcheck),
        resources: toResources(p.resources),
      }),
    );
  } else if (files.procfile !== undefined) {
    processes = parseProcfile(files.procfile).map((e) => processDefaults(e.name, { command: e.command }));
    used.add('procfile');
  } else if (pkg?.scripts.start !== undefined) web('node', S.NPM_START);
  else if (files.maven) web('maven', S.MVN_WEB);
  else if (files.goMod) web('go', S.GO_WEB);
  else if (files.indexHtml) {
    web('static', S.STATIC_WEB);
    staticServer = true;
  }
  if (processes.length === 0) throw new NoopsError('NOOPS_E_NO_PROCESSES', noProcessesMessage(files, pkg !== undefined));

  // What the stack needs, where noops.yaml does not name it.
  const runtimes: Record<string, string> = { ...(yaml?.runtimes ?? {}) };
  const buildRuntimes: Record<string, string> = { ...(yaml?.build_runtimes ?? {}) };
  for (const part of ['maven', 'go'] as const) {
    if (!used.has(part)) continue;
    for (const [name, version] of Object.entries(S.STACK_RUNTIMES[part].run)) if (!(name in runtimes)) runtimes[name] = version;
    for (const [name, version] of Object.entries(S.STACK_RUNTIMES[part].build)) {
      if (!(name in runtimes) && !(name in buildRuntimes)) buildRuntimes[name] = version;
    }
  }

  return {
    stack: STACK_PARTS.filter((part) => used.has(part)).join('+'),
    build,
    test,
    ...splitEnv(yaml?.env),
    processes,
    crons: toCrons(yaml?.crons),
    exclude: [...(yaml?.exclude ?? [])],
    runtimes,
    buildRuntimes,
    staticServer,
    deployTests: [...(yaml?.deploy_tests ?? [])],
    ...(yaml?.depends_on?.length && { dependsOn: [...yaml.depends_on] }),
    ...(yaml?.drain_timeout !== undefined && { drainTimeout: yaml.drain_timeout }),
    ...(yaml?.driver !== undefined && { driver: yaml.driver }),
    ...(yaml?.image !== undefined && { image: yaml.image }),
    ...(yaml?.resources !== undefined && { resources: toResources(yaml.resources) }),
    ...(yaml?.volumes !== undefined && { volumes: toVolumes(yaml.volumes) }),
  };
}

/** The parts of package.json detection reads. */
interface PackageJson {
  scripts: { build?: string; start?: string };
}

function readPackageJson(value: unknown): PackageJson {
  const hint = 'fix package.json';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new NoopsError('NOOPS_E_MANIFEST', 'package.json: expected a JSON object', { hint });
  }
  const scripts: unknown = (value as Record<string, unknown>).scripts;
  if (scripts === undefined) return { scripts: {} };
  if (typeof scripts !== 'object' || scripts === null || Array.isArray(scripts)) {
    throw new NoopsError('NOOPS_E_MANIFEST', 'package.json: scripts: expected an object', { hint });
  }
  const pick = (name: string): string | undefined => {
    const script = (scripts as Record<string, unknown>)[name];
    return typeof script === 'string' && script.trim() !== '' ? script : undefined;
  };
  return { scripts: { build: pick('build'), start: pick('start') } };
}

function noProcessesMessage(files: DetectInput, hasPackageJson: boolean): string {
  if (files.noopsYaml?.processes) return 'noops.yaml: processes: lists no process';
  if (files.procfile !== undefined) return 'the Procfile lists no process';
  const found = [
    files.noopsYaml ? 'noops.yaml (without processes)' : '',
    hasPackageJson ? 'package.json (without a start script)' : '',
    files.buildSh ? 'build.sh (which names no process)' : '',
  ].filter(Boolean);
  return `no process to run: no Procfile${found.length > 0 ? `; found ${found.join(' and ')}` : ', noops.yaml, package.json, pom.xml, go.mod or index.html'}`;
}
