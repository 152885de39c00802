/**
 * Check before deploy: a release whose manifest runs a process or cron as root (`user: root`,
 * or uid 0) deploys only where the server's admin allowed root (`noops root allow --scope TAG`
 * on the cluster or a node above it). Refused before any host's desired state changes.
 *
 * The server knows names, not the hosts' user databases: a host user with uid 0 under another
 * name (`toor`) is refused by the agent itself when it starts the process (see
 * src/supervisor/user.ts).
 */
import { NoopsError } from '../errors/index.js';
import type { ReleaseManifest } from '../release/index.js';
import type { ReleaseRow } from '../store/index.js';
import { isUnder } from '../tree/index.js';
import type { RolloutReader } from './ports.js';
import { manifestOf } from './store-ports.js';

/**
 * Whether processes under `tag` may run as root, given the scopes root is allowed on.
 *
 * @example rootAllowed('cop.a_owt.b_pdl.c', ['cop.a_owt.b']) // true
 */
export function rootAllowed(tag: string, scopes: readonly string[]): boolean {
  return scopes.some((scope) => isUnder(tag, scope));
}

/** True when a manifest's `user:` names root: the name `root` or the uid 0. */
export function namesRoot(user: string | null | undefined): boolean {
  return user === 'root' || (user !== null && user !== undefined && /^0+$/.test(user));
}

/**
 * The processes and crons of a manifest that run as root, in words.
 *
 * @example rootUsers({ processes: [{ name: 'web', user: 'root' }], crons: [] }) // ['process web (user root)']
 */
export function rootUsers(manifest: Pick<ReleaseManifest, 'processes' | 'crons'>): string[] {
  const out: string[] = [];
  for (const p of manifest.processes ?? []) if (namesRoot(p.user)) out.push(`process ${p.name} (user ${p.user})`);
  for (const c of manifest.crons ?? []) if (namesRoot(c.user)) out.push(`cron ${c.name} (user ${c.user})`);
  return out;
}

/**
 * Throws when a deploy's release runs something as root and root is not allowed for the
 * cluster. Reads the scopes root is allowed on only when the release runs something as root.
 *
 * @throws NoopsError NOOPS_E_ROOT_NOT_ALLOWED
 */
export async function checkRootUsers(read: Pick<RolloutReader, 'rootScopes'>, req: { tag: string; release: ReleaseRow }): Promise<void> {
  const { release } = req;
  const asRoot = rootUsers(manifestOf(release));
  if (asRoot.length === 0) return;
  if (rootAllowed(req.tag, await read.rootScopes())) return;
  throw new NoopsError(
    'NOOPS_E_ROOT_NOT_ALLOWED',
    `release ${release.job} ${release.version} runs as root (${asRoot.join(', ')}), and root is not allowed for ${req.tag}; nothing was deployed and no host was changed`,
    {
      hint: `the server's admin allows it with \`noops root allow --scope ${req.tag}\` (or a node above it); or give the process another \`user:\` in noops.yaml`,
    },
  );
}
