/**
 * What the signed-in token may do, decided without I/O, so the console offers only the buttons
 * the server will accept. It mirrors the server's rule (`src/server/auth.ts`: `canSee` and
 * `roleCovers`, checked by `authorize`): a team token acts on its scope and everything under
 * it, up to its role (viewer < deployer < admin); the server's admin token is admin everywhere.
 * The server stays the judge: a button shown wrongly is still refused with NOOPS_E_FORBIDDEN.
 *
 * This is a copy, not an import: auth.ts lives with the server and pulls the store's types,
 * and everything the console imports is compiled into dist/web and served to anyone.
 * `permissions.test.ts` compares the two on every kind of token, so they cannot drift apart.
 */
import type { WhoamiView } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { isUnder } from '../tree/index.js';

/** A person's role on a node: viewer reads, deployer also changes, admin also hands out tokens. */
export type Role = NonNullable<WhoamiView['role']>;

/** Who is signed in, as `GET /api/v1/whoami` answers it. */
export type Who = WhoamiView;

const RANK: Record<Role, number> = { viewer: 1, deployer: 2, admin: 3 };

/** The buttons that change something, and the role each needs on the node it acts on. */
export const NEEDS = {
  deploy: 'deployer',
  build: 'deployer',
  rollback: 'deployer',
  pause: 'deployer',
  resume: 'deployer',
  promote: 'deployer',
  abort: 'deployer',
  undeploy: 'deployer',
} as const satisfies Record<string, Role>;

/**
 * Whether `who` has at least `need` on the node `tag`: the admin token everywhere, a team token
 * on its scope and under it. Anything else (an agent's token, a tag that does not parse) may not.
 *
 * @example
 *   may({ kind: 'team', scope: 'cop.acme_owt.web', role: 'deployer' }, 'cop.acme_owt.web_pdl.shop', 'deployer') // true
 *   may({ kind: 'team', scope: 'cop.acme_owt.web', role: 'viewer' }, 'cop.acme_owt.web_pdl.shop', 'deployer')   // false
 */
export function may(who: Pick<Who, 'kind' | 'scope' | 'role'>, tag: string, need: Role): boolean {
  if (who.role === null || RANK[who.role] < RANK[need]) return false;
  if (who.kind === 'admin') return true;
  if (who.kind !== 'team' || who.scope === null) return false;
  try {
    return isUnder(tag, who.scope);
  } catch {
    // Not a tag (typed into the address bar): nothing to act on.
    return false;
  }
}

/**
 * Who is signed in, in the header's words.
 *
 * @example
 *   whoWords({ kind: 'team', name: 'web-ci', scope: 'cop.acme_owt.web', role: 'viewer', id: 'ab12' }) // 'viewer on cop.acme_owt.web'
 *   whoWords({ kind: 'admin', name: 'admin', scope: null, role: 'admin', id: 'cd34' })                 // 'admin of everything'
 */
export function whoWords(who: Who): string {
  if (who.kind === 'admin') return 'admin of everything';
  return who.scope ? `${who.role ?? 'no role'} on ${who.scope}` : `${who.kind} token`;
}

/** True when the server answered "not found" (404): the thing is missing, or outside the token's scope. */
export function isNotFound(err: unknown): boolean {
  return err instanceof NoopsError && err.status === 404;
}

/**
 * What a page says when the server answers 404 for `what`. The server answers the same for a
 * thing that does not exist and for one outside the token's scope (so names do not leak), and
 * so does the console; a team token is told that either may be the case.
 *
 * @example
 *   notFoundWords(teamViewer, 'node cop.acme_owt.ops') // 'There is no node cop.acme_owt.ops, or it is not yours: ...'
 */
export function notFoundWords(who: Who, what: string): string {
  if (who.kind === 'admin') return `There is no ${what}.`;
  return `There is no ${what}, or it is not yours: the token "${who.name}" sees only ${who.scope ?? 'nothing'} and what is under it.`;
}
