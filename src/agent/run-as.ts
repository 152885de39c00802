/**
 * Who the processes of releases run as on a host. An agent that runs as root runs them as an
 * unprivileged user it creates (`noops` by default, `noops agent --user NAME`), or as the user a
 * manifest names; root (uid 0, under any name) only where the server's admin allowed it (the
 * desired instance's `allowRoot`, checked by the supervisor on the resolved uid). An agent that
 * is not root cannot switch users: processes run as the agent's own user, and a `user:` other
 * than it is an error.
 *
 * The decision is pure (`hostUsers`, `processUser`, then `identityFor` in the supervisor); the
 * I/O is in `setUpProcessUser`: create the user, and keep the agent's own files root-only in a
 * root that the user must be able to walk through.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { resolveUser } from '../supervisor/index.js';

/** The user `noops agent` runs processes as when their manifest names none. */
export const DEFAULT_PROCESS_USER = 'noops';

/** 30 s: useradd may take a while on a host with a slow NSS or a big /etc/passwd, not longer. */
const USERADD_TIMEOUT_MS = 30_000;

/** Who the processes of a host's releases run as, when their manifest does not say. */
export interface HostUsers {
  /** the user of a process or cron without `user:`; null: the agent's own (it is not root, so it cannot switch) */
  defaultUser: string | null;
}

/**
 * The host's users: the configured default user when the agent runs as root, else none.
 *
 * @example hostUsers('noops', 0) // { defaultUser: 'noops' }
 * @example hostUsers('noops', 1000) // { defaultUser: null }: a developer's agent runs everything as itself
 */
export function hostUsers(configured: string | undefined, agentUid: number): HostUsers {
  return { defaultUser: agentUid === 0 && configured !== undefined ? configured : null };
}

/**
 * The user a process or cron runs as: its manifest's `user:`, else the host's default;
 * undefined: the agent's own user.
 *
 * @example processUser(undefined, { defaultUser: 'noops' }) // 'noops'
 * @example processUser('www-data', { defaultUser: 'noops' }) // 'www-data'
 */
export function processUser(manifestUser: string | null | undefined, host: HostUsers): string | undefined {
  return manifestUser ?? host.defaultUser ?? undefined;
}

/**
 * What an agent that runs as root does before it starts anything: creates the default user if
 * missing (a system user, no home, no login shell), and makes its root walkable but not
 * listable (0711) with its own files root-only (state and identity 0600, the package cache
 * 0700). Answers warnings for the log: the folders above the root that the user cannot walk
 * through (its processes could not reach their release).
 *
 * @throws NoopsError NOOPS_E_INPUT when the user cannot be created or is root
 */
export function setUpProcessUser(user: string, root: string): string[] {
  ensureSystemUser(user);
  if (resolveUser(user).uid === 0) {
    throw new NoopsError('NOOPS_E_INPUT', `--user ${user} is root: the default user of processes must be an unprivileged user`, {
      hint: "leave --user out (processes run as `noops`), and let the server's admin allow root where it is needed (`noops root allow --scope TAG`)",
    });
  }
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o711);
  for (const file of ['state.json', 'agent.json', 'events.log']) {
    if (existsSync(join(root, file))) chmodSync(join(root, file), 0o600);
  }
  mkdirSync(join(root, 'cache'), { recursive: true, mode: 0o700 });
  chmodSync(join(root, 'cache'), 0o700);
  return unwalkableParents(root).map(
    (dir) =>
      `${dir} cannot be walked through by other users: processes that run as ${user} cannot reach their releases under ${root} (chmod o+x ${dir}, or another --root)`,
  );
}

/** Creates the system user `name` and its group unless the user exists (Debian's useradd, else adduser). */
export function ensureSystemUser(name: string): void {
  try {
    resolveUser(name);
    return;
  } catch (err) {
    if (!(err instanceof NoopsError && /does not exist/.test(err.message))) throw err;
  }
  const attempts: [string, string[]][] = [
    ['useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]],
    ['adduser', ['--system', '--group', '--no-create-home', '--home', '/nonexistent', '--shell', '/usr/sbin/nologin', name]],
  ];
  const failures: string[] = [];
  for (const [cmd, args] of attempts) {
    try {
      execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: USERADD_TIMEOUT_MS });
      return;
    } catch (err) {
      const e = err as Error & { stderr?: Buffer };
      failures.push(`${cmd}: ${e.stderr?.toString().trim() || e.message}`);
    }
  }
  throw new NoopsError('NOOPS_E_INPUT', `cannot create the user "${name}" that processes run as (${failures.join('; ')})`, {
    hint: `create it yourself (useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${name}), or start the agent with --user NAME of an existing unprivileged user`,
  });
}

/** The folders above `dir` that other users cannot walk through (no o+x). */
function unwalkableParents(dir: string): string[] {
  const out: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) out.push(d);
    if (dirname(d) === d) return out;
  }
}
