/**
 * Stack detection, the way buildpacks do it, as a pure function: what to run to build and test a
 * checkout, and which processes its release runs. noops.yaml, where it says something, wins.
 */
import { NoopsError } from '../errors/index.js';
import { parseProcfile, processDefaults, type NoopsYaml, type ProcessSpec } from '../release/index.js';
import { healthCheckFromYaml } from '../release/health.js';

/** Installs exactly the lockfile's tree; no audit or funding requests (quiet, works offline). */
export const NPM_CI = 'npm ci --no-audit --no-fund';
/** Without a lockfile, npm install resolves the tree (and writes a lockfile into the package). */
export const NPM_INSTALL = 'npm install --no-audit --no-fund';
/** Run when package.json has a `build` script. */
export const NPM_BUILD = 'npm run build';
/** The `web` process of a package.json with a `start` script and no Procfile. */
export const NPM_START = 'npm start';

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
}

/** How to build a checkout and what its release runs. */
export interface BuildPlan {
  /** what decided the plan: parts of `manifest`, `node`, `procfile`, joined by `+` */
  stack: string;
  /** shell commands, in order */
  build: string[];
  /** shell commands run after the build */
  test: string[];
  /** environment of every process */
  env: Record<string, string>;
  processes: ProcessSpec[];
  /** noops.yaml's exclude patterns */
  exclude: string[];
  /** noops.yaml's deploy tests (none: empty) */
  deployTests: string[];
}

/** The parts of a stack name, in the order they are written. */
const STACK_PARTS = ['manifest', 'node', 'procfile'] as const;

/**
 * Decides the build plan. For each of build, test and processes, the first source that has it
 * decides: build: noops.yaml `build`, else package.json (`npm ci` or `npm install`, then
 * `npm run build` if there is a build script), else nothing; test: noops.yaml `test`, else
 * nothing (npm's placeholder test script fails, so it is never guessed); processes: noops.yaml
 * `processes`, else the Procfile, else `web: npm start` for a package.json with a start script.
 *
 * @example
 *   detectStack({ procfile: 'web: node server.js\n', hasLock: false }).stack // 'procfile'
 * @throws NoopsError NOOPS_E_NO_PROCESSES when no source names a process; NOOPS_E_MANIFEST for a bad Procfile or package.json
 */
export function detectStack(files: DetectInput): BuildPlan {
  const yaml = files.noopsYaml;
  const pkg = files.packageJson === undefined ? undefined : readPackageJson(files.packageJson);
  const used = new Set<(typeof STACK_PARTS)[number]>();
  if (yaml) used.add('manifest');

  let build: string[] = [];
  if (yaml?.build) build = [...yaml.build];
  else if (pkg) {
    build = [files.hasLock ? NPM_CI : NPM_INSTALL, ...(pkg.scripts.build !== undefined ? [NPM_BUILD] : [])];
    used.add('node');
  }

  let processes: ProcessSpec[] = [];
  if (yaml?.processes) {
    processes = Object.entries(yaml.processes).map(([name, p]) =>
      processDefaults(name, {
        command: p.command,
        port: p.port,
        env: p.env,
        stopSignal: p.stop_signal,
        stopTimeout: p.stop_timeout,
        startGrace: p.start_grace,
        healthcheck: p.healthcheck === undefined ? undefined : healthCheckFromYaml(p.healthcheck),
      }),
    );
  } else if (files.procfile !== undefined) {
    processes = parseProcfile(files.procfile).map((e) => processDefaults(e.name, { command: e.command }));
    used.add('procfile');
  } else if (pkg?.scripts.start !== undefined) {
    processes = [processDefaults('web', { command: NPM_START })];
    used.add('node');
  }
  if (processes.length === 0) throw new NoopsError('NOOPS_E_NO_PROCESSES', noProcessesMessage(files, pkg !== undefined));

  return {
    stack: STACK_PARTS.filter((part) => used.has(part)).join('+'),
    build,
    test: [...(yaml?.test ?? [])],
    env: { ...(yaml?.env ?? {}) },
    processes,
    exclude: [...(yaml?.exclude ?? [])],
    deployTests: [...(yaml?.deploy_tests ?? [])],
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
  const found = [files.noopsYaml ? 'noops.yaml (without processes)' : '', hasPackageJson ? 'package.json (without a start script)' : ''].filter(Boolean);
  return `no process to run: no Procfile${found.length > 0 ? `; found ${found.join(' and ')}` : ', noops.yaml or package.json'}`;
}
