/**
 * Running a process as another user: the name is resolved through the system's user database
 * (`getent passwd`, so LDAP and other NSS sources count), and only a supervisor running as
 * root may switch users. Node's spawn drops the supplementary groups of root when it switches.
 */
import { execFileSync } from 'node:child_process';
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
    line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', timeout: GETENT_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0] ?? '';
  } catch {
    throw new NoopsError('NOOPS_E_INPUT', `user "${user}" does not exist on this host`, { hint: 'create the user, or change `user:` in noops.yaml' });
  }
  const [name, , uid, gid, , home] = line.split(':');
  if (name === undefined || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) {
    throw new NoopsError('NOOPS_E_INPUT', `user "${user}": unexpected getent output ${JSON.stringify(line)}`);
  }
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

/**
 * The uid and gid to spawn with, or undefined when the process runs as the supervisor's user.
 * Throws when another user is asked for and the supervisor is not root.
 */
export function spawnIdentity(user: string | undefined): RunAs | undefined {
  if (user === undefined) return undefined;
  const who = resolveUser(user);
  const myUid = process.getuid?.();
  if (myUid === who.uid) return undefined;
  if (myUid !== 0) {
    throw new NoopsError('NOOPS_E_INPUT', `a process runs as user "${user}", and only an agent running as root may switch users`, {
      hint: 'run the agent as root, or remove `user:` from the process',
    });
  }
  return who;
}
