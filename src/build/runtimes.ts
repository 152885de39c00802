/**
 * The runtimes of a build: resolving what the plan wants (`18`, `*`) to known versions, and the
 * environment of build commands with those runtimes first on PATH. The catalog and the install
 * are the server's, behind {@link BuildRuntimes}.
 */
import { NoopsError } from '../errors/index.js';
import { RUNTIME_VERSION_RE } from '../release/index.js';
import { ANY_VERSION, resolveVersion, runtimeEnv, type PlacedRuntime, type RuntimeExports } from '../runtimes/index.js';
import type { BuildPlan } from './detect.js';

/** What the build needs from the server's runtime catalog. */
export interface BuildRuntimes {
  /** the known versions of a runtime (empty when none) */
  versions(name: string): Promise<string[]>;
  /** installs one version on the build server (once; verified) and says where and what it exports */
  install(name: string, version: string): Promise<{ dir: string; exports: RuntimeExports; sha256: string }>;
}

/** The plan's runtimes at exact versions. */
export interface ResolvedRuntimes {
  /** recorded in manifest.json: the runtimes of every process */
  release: Record<string, string>;
  /** what the build commands run with: the release's, then the build-only ones */
  build: Record<string, string>;
  /** lines for the build log (runtimes that could not be resolved but were not needed) */
  warnings: string[];
}

/**
 * Resolves the plan's runtimes against the catalog. A runtime the build needs (it has commands
 * to run) must be known; one only the release needs is recorded as written, with a warning,
 * when it is unknown (a deploy is refused until it is added).
 *
 * @throws NoopsError NOOPS_E_RUNTIME_UNKNOWN naming the runtime, the versions known, and where it was asked for
 */
export async function resolveRuntimes(
  plan: Pick<BuildPlan, 'runtimes' | 'buildRuntimes' | 'build' | 'test' | 'stack'>,
  catalog: BuildRuntimes | undefined,
): Promise<ResolvedRuntimes> {
  const runsCommands = plan.build.length + plan.test.length > 0;
  const out: ResolvedRuntimes = { release: {}, build: {}, warnings: [] };
  const wanted: [string, string, boolean][] = [
    ...Object.entries(plan.runtimes).map(([n, v]): [string, string, boolean] => [n, v, true]),
    ...Object.entries(plan.buildRuntimes).map(([n, v]): [string, string, boolean] => [n, v, false]),
  ];
  for (const [name, want, forRelease] of wanted) {
    const known = catalog ? await catalog.versions(name) : [];
    const exact = resolveVersion(want, known);
    if (exact !== undefined) {
      if (forRelease) out.release[name] = exact;
      out.build[name] = exact;
      continue;
    }
    const what = want === ANY_VERSION ? `the runtime ${name}` : `the runtime ${name} ${want}`;
    const has = known.length > 0 ? `this server has ${name} ${known.join(', ')}` : `this server has no ${name}`;
    if (runsCommands) {
      const who = want === ANY_VERSION ? `a ${plan.stack} build` : 'the build';
      throw new NoopsError('NOOPS_E_RUNTIME_UNKNOWN', `${who} needs ${what}, and ${has}`, {
        hint: `add it with \`noops runtime add ${name} VERSION FILE|URL\`, or name a known version in noops.yaml runtimes`,
      });
    }
    if (forRelease && RUNTIME_VERSION_RE.test(want)) {
      out.release[name] = want;
      out.warnings.push(`noops: warning: ${what} is not known (${has}); deploys of this release are refused until it is added\n`);
    }
  }
  return out;
}

/**
 * Installs the build's runtimes and returns the variables of build commands: PATH with every
 * runtime's folders first, then `basePath`, and each runtime's exports.
 */
export async function buildRuntimeEnv(
  build: Record<string, string>,
  catalog: BuildRuntimes | undefined,
  basePath: string | undefined,
  log: (text: string) => void,
): Promise<Record<string, string>> {
  const placed: PlacedRuntime[] = [];
  for (const [name, version] of Object.entries(build)) {
    if (!catalog) break;
    const r = await catalog.install(name, version);
    log(`noops: runtime ${name} ${version} (sha256 ${r.sha256}) at ${r.dir}\n`);
    placed.push({ exports: r.exports, dir: r.dir });
  }
  return runtimeEnv(placed, basePath);
}
