/**
 * Check before deploy (the seed's `check_env`): a release whose runtimes the server does not
 * know, or that some host of the cluster cannot install, is refused before any host's desired
 * state changes, with a message naming what is missing where. The decision is a pure function
 * (`envProblems`); `checkEnv` gathers its input and throws.
 */
import { NoopsError } from '../errors/index.js';
import { platformProblem, type HostRuntimeReport } from '../runtimes/index.js';
import type { HostRow, ReleaseRow } from '../store/index.js';
import type { RolloutDeps } from './ports.js';
import type { RolloutReader } from './ports.js';
import { manifestOf } from './store-ports.js';

/** A host of the cluster as the check sees it. */
export interface EnvHost {
  name: string;
  labels: Record<string, string>;
  /** whether its last report since the server started had runtime facts; absent: no report yet */
  report?: { runtimes?: HostRuntimeReport };
}

/** What is wrong: unknown runtimes, and runtimes some hosts cannot install. */
export interface EnvProblems {
  /** `name version (known: ...)` */
  unknown: string[];
  /** `name version on host: why` */
  unavailable: string[];
}

/**
 * The problems of running a release that needs `needs` (name -> exact version) on `hosts`.
 * `catalog` has every known version of each runtime the release names, with its platform.
 *
 * @example envProblems({ node: '99' }, { node: [] }, hosts).unknown // ['node 99 (this server has no node)']
 */
export function envProblems(
  needs: Record<string, string>,
  catalog: Record<string, { version: string; platform: string }[]>,
  hosts: readonly EnvHost[],
): EnvProblems {
  const out: EnvProblems = { unknown: [], unavailable: [] };
  for (const [name, version] of Object.entries(needs)) {
    const versions = catalog[name] ?? [];
    const row = versions.find((v) => v.version === version);
    if (!row) {
      out.unknown.push(
        `${name} ${version} (${versions.length > 0 ? `known: ${name} ${versions.map((v) => v.version).join(', ')}` : `this server has no ${name}`})`,
      );
      continue;
    }
    for (const host of hosts) {
      const why = hostProblem(host) ?? platformProblem(row.platform, host.labels);
      if (why) out.unavailable.push(`${name} ${version} on ${host.name}: ${why}`);
    }
  }
  return out;
}

/** Why a host cannot install any runtime, from its last report; null when it can (or nothing says otherwise). */
function hostProblem(host: EnvHost): string | null {
  if (!host.report) return null; // no report since the server started: its labels decide
  const r = host.report.runtimes;
  if (!r) return 'its agent does not install runtimes (an older noops agent: upgrade it)';
  return r.canInstall ? null : `its agent cannot install runtimes (${r.reason ?? 'no reason given'})`;
}

/** Whether a release names runtimes: the check below then needs the cluster's hosts' rows (their labels). */
export function needsRuntimes(release: ReleaseRow): boolean {
  return Object.keys(manifestOf(release).runtimes ?? {}).length > 0;
}

/**
 * Throws when a deploy's release cannot run on its cluster for want of runtimes. The caller read
 * the cluster, the release and, when the release names runtimes (`needsRuntimes`), the cluster's
 * hosts (those that joined); this reads the runtimes the release names, only when it names some.
 *
 * @throws NoopsError NOOPS_E_RUNTIME_UNKNOWN, then NOOPS_E_RUNTIME_UNAVAILABLE
 */
export async function checkEnv(
  read: Pick<RolloutReader, 'runtimes'>,
  lastReport: RolloutDeps['lastReport'],
  req: { tag: string; release: ReleaseRow; cluster: string[]; hosts: readonly HostRow[] },
): Promise<void> {
  const { release } = req;
  if (!needsRuntimes(release)) return;
  const needs = manifestOf(release).runtimes!;
  const catalog: Record<string, { version: string; platform: string }[]> = {};
  for (const name of Object.keys(needs))
    catalog[name] = (await read.runtimes(name)).map((r) => ({ version: r.version, platform: r.platform }));
  const byName = new Map(req.hosts.map((h) => [h.name, h]));
  const hosts: EnvHost[] = [];
  for (const name of req.cluster) {
    const row = byName.get(name);
    if (!row) continue; // the controller refuses unknown hosts
    const report = lastReport(name);
    hosts.push({ name, labels: row.labels, ...(report && { report: { runtimes: report.runtimes } }) });
  }
  const p = envProblems(needs, catalog, hosts);
  const what = `release ${release.job} ${release.version}`;
  if (p.unknown.length > 0) {
    throw new NoopsError(
      'NOOPS_E_RUNTIME_UNKNOWN',
      `${what} needs runtimes this server does not have: ${p.unknown.join('; ')}; nothing was deployed and no host was changed`,
      {
        hint:
          p.unknown.length === 1
            ? `add it with \`noops runtime add ${Object.keys(needs).find((n) => p.unknown[0]!.startsWith(`${n} `))} VERSION FILE|URL\``
            : undefined,
      },
    );
  }
  if (p.unavailable.length > 0) {
    throw new NoopsError(
      'NOOPS_E_RUNTIME_UNAVAILABLE',
      `${what} needs runtimes that cannot be installed on every host of ${req.tag}: ${p.unavailable.join('; ')}; nothing was deployed and no host was changed`,
    );
  }
}
