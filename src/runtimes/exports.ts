/**
 * What a runtime exports to a process: folders on PATH and variables, with `{dir}` standing for
 * the runtime's folder. Pure functions: the agent and the build compute a process's environment
 * with them.
 */
import { isAbsolute } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { ENV_NAME_RE } from '../release/index.js';
import type { RuntimeExports } from './types.js';

/** In an exported value, the runtime's folder on the host. */
export const DIR_PLACEHOLDER = '{dir}';

/**
 * The `*_HOME` variable tools look for, for the runtimes people name most. Any other is declared
 * when the runtime is added (`--env NAME={dir}`).
 */
export const WELL_KNOWN_HOMES: Record<string, string> = {
  node: 'NODE_HOME',
  jdk: 'JAVA_HOME',
  java: 'JAVA_HOME',
  maven: 'MAVEN_HOME',
  go: 'GOROOT',
};

/** Every runtime has `bin/` (the add checks it): it goes first on PATH. */
export const DEFAULT_PATH = ['bin'];

/**
 * The exports of a runtime that declares nothing more: `bin` on PATH, and its well-known home.
 *
 * @example defaultExports('jdk') // { path: ['bin'], env: { JAVA_HOME: '{dir}' } }
 */
export function defaultExports(name: string): RuntimeExports {
  const home = WELL_KNOWN_HOMES[name];
  return { path: [...DEFAULT_PATH], env: home ? { [home]: DIR_PLACEHOLDER } : {} };
}

/**
 * Checks exports given by a person: PATH folders are relative and stay inside the runtime;
 * variables have valid names; PATH itself is set through `path`.
 *
 * @throws NoopsError NOOPS_E_INPUT naming the bad entry
 */
export function checkExports(x: RuntimeExports): RuntimeExports {
  for (const p of x.path) {
    if (typeof p !== 'string' || p === '' || isAbsolute(p) || p.split('/').includes('..') || p.includes(':')) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `export path "${p}" must be a folder inside the runtime, relative (e.g. bin), without ".." or ":"`,
      );
    }
  }
  for (const [k, v] of Object.entries(x.env)) {
    if (!ENV_NAME_RE.test(k)) throw new NoopsError('NOOPS_E_INPUT', `export "${k}" is not a variable name (letters, digits and "_")`);
    if (k === 'PATH') throw new NoopsError('NOOPS_E_INPUT', 'PATH is exported with --path DIR, not --env');
    if (typeof v !== 'string' || /[\0\n]/.test(v)) throw new NoopsError('NOOPS_E_INPUT', `export ${k} must be one line of text`);
  }
  return x;
}

/** One runtime as a process gets it: its exports and where it is on this host. */
export interface PlacedRuntime {
  exports: RuntimeExports;
  /** the runtime's folder, absolute */
  dir: string;
}

/**
 * The variables a process gets from its runtimes: PATH with every runtime's folders first (in
 * the order given), then `basePath`; and each runtime's variables with `{dir}` replaced. A later
 * runtime's variable wins over an earlier one's.
 *
 * @example
 *   runtimeEnv([{ exports: defaultExports('node'), dir: '/r/runtimes/node/18.20.4' }], '/usr/bin')
 *   // { PATH: '/r/runtimes/node/18.20.4/bin:/usr/bin', NODE_HOME: '/r/runtimes/node/18.20.4' }
 */
export function runtimeEnv(runtimes: readonly PlacedRuntime[], basePath: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const path: string[] = [];
  for (const r of runtimes) {
    for (const p of r.exports.path) path.push(p === '.' ? r.dir : `${r.dir}/${p.replace(/^\.\/|\/+$/g, '')}`);
    for (const [k, v] of Object.entries(r.exports.env)) env[k] = v.split(DIR_PLACEHOLDER).join(r.dir);
  }
  if (basePath) path.push(basePath);
  return path.length > 0 ? { PATH: path.join(':'), ...env } : env;
}
