/**
 * Running a process as another user: the name is resolved through the system's user database
 * (`getent passwd`, so LDAP and other NSS sources count), and only a supervisor running as
 * root may switch users. Node's spawn drops the supplementary groups of root when it switches.
 */
import { execFileSync } from 'node:child_process';
import { lchownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';

/** A resolved user. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** 5 s: a user database lookup over the network (LDAP) may be slow, but not longer than this. */
const GETENT_TIMEOUT_MS = 5_000;

/**
 * Resolves `user` (a name or a numeric uid) to its uid, gid and home, or throws NOOPS_E_INPUT.
 *
 * @example resolveUser('www-data') // { name: 'www-data', uid: 33, gid: 33, home: '/var/www' }
 */
export function resolveUser(user: string): RunAs {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(user)) {
    throw new NoopsError('NOOPS_E_INPUT', `user ${JSON.stringify(user)} is not a user name or uid`);
  }
  let line: string;
  try {
    line =
      execFileSync('getent', ['passwd', user], { encoding: 'utf8', timeout: GETENT_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] }).split(
        '\n',
      )[0] ?? '';
  } catch {
    throw new NoopsError('NOOPS_E_INPUT', `user "${user}" does not exist on this host`, {
      hint: 'create the user, or change `user:` in noops.yaml',
    });
  }
  const [name, , uid, gid, , home] = line.split(':');
  if (name === undefined || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) {
    throw new NoopsError('NOOPS_E_INPUT', `user "${user}": unexpected getent output ${JSON.stringify(line)}`);
  }
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

/**
 * The uid and gid to spawn with, or undefined when the process runs as the supervisor's user.
 * Throws when another user is asked for and the supervisor is not root, and (with `allowRoot`
 * false) when the process would run as uid 0, under any name.
 */
export function spawnIdentity(user: string | undefined, allowRoot?: boolean): RunAs | undefined {
  return identityFor(user === undefined ? undefined : resolveUser(user), process.getuid?.() ?? -1, allowRoot);
}

/**
 * The decision behind `spawnIdentity`, without the user database: `who` is the user asked for
 * (resolved; undefined: none), `selfUid` the supervisor's own uid. `allowRoot` false refuses uid
 * 0, whether asked for (`root`, `0`, or any other name with uid 0) or inherited from a supervisor
 * that runs as root; undefined leaves root to the caller (the host's own watches file).
 *
 * @example identityFor(undefined, 1000, false) // undefined: runs as uid 1000, as the supervisor
 * @example identityFor({ name: 'noops', uid: 998, gid: 998, home: '/nonexistent' }, 0, false) // switches to noops
 */
export function identityFor(who: RunAs | undefined, selfUid: number, allowRoot: boolean | undefined): RunAs | undefined {
  const uid = who?.uid ?? selfUid;
  if (uid === 0 && allowRoot === false) {
    const as =
      who === undefined ? "the agent's own user (root), as no user is set" : who.name === 'root' ? 'root' : `"${who.name}" (uid 0)`;
    throw new NoopsError('NOOPS_E_ROOT_NOT_ALLOWED', `it would run as ${as}, and root is not allowed for it; nothing was started`, {
      hint: "the server's admin allows root for the service (`noops root allow --scope TAG`), or `user:` in noops.yaml names another user",
    });
  }
  if (who === undefined || who.uid === selfUid) return undefined;
  if (selfUid !== 0) {
    throw new NoopsError('NOOPS_E_INPUT', `a process runs as user "${who.name}", and only an agent running as root may switch users`, {
      hint: 'run the agent as root, or remove `user:` from the process',
    });
  }
  return who;
}

/**
 * Gives `dirs` (a release's data folder) to `who`, so that its processes may write there: each
 * folder, and what is inside it, that belongs to root (the agent made it, or a process ran as
 * root before) changes owner; anything of another user is left alone. Symbolic links are never
 * followed, and only folders that no other user may write are walked (nothing can be swapped
 * under the walk). Nothing happens when the process runs as the supervisor's own user.
 */
export function claimFolders(dirs: readonly string[], who: RunAs | undefined): void {
  if (who === undefined) return;
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    claim(dir, who);
  }
}

function claim(path: string, who: RunAs): void {
  const st = lstatSync(path);
  if (st.uid !== 0 || st.isSymbolicLink()) return;
  lchownSync(path, who.uid, who.gid);
  // Group- or world-writable: another user could swap an entry for a link while we walk it.
  if (!st.isDirectory() || (st.mode & 0o022) !== 0) return;
  for (const name of readdirSync(path)) claim(join(path, name), who);
}

/** The environment of a process that runs as `who`: its own HOME, USER and LOGNAME. */
export function userEnv(env: Record<string, string>, who: RunAs): Record<string, string> {
  return { ...env, HOME: who.home, USER: who.name, LOGNAME: who.name };
}

/**
 * The spawn options that run a command with `env` as `who` (undefined: as the supervisor's own user).
 *
 * @example spawn('/bin/sh', ['-c', cmd], { cwd, ...asUser(who, env) })
 */
export function asUser(who: RunAs | undefined, env: Record<string, string>): { env: Record<string, string>; uid?: number; gid?: number } {
  return who === undefined ? { env } : { env: userEnv(env, who), uid: who.uid, gid: who.gid };
}
