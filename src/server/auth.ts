/**
 * Who may call what. Every route declares its `access` (see `Access`); the gate in `gate.ts`
 * checks the caller's token against it before the handler runs, and the handler checks the
 * tags it touches with `authorize` (changes) or `canSee` (reads).
 *
 * Tokens of people are the server's admin token (everything) and team tokens: a role on one
 * node of the service tree, which covers the node and everything under it.
 *
 *   role      may                                                    under its scope
 *   viewer    read                                                   hosts, tree, releases, history, audit ...
 *   deployer  viewer + build, set clusters, deploy, roll back, restart
 *   admin     deployer + make and revoke tokens, set secrets
 *
 * Only the server's admin token assigns hosts to nodes, approves joins, removes hosts, adds
 * runtimes and allows processes to run as root.
 */
import { NoopsError } from '../errors/index.js';
import type { TokenRole, TokenRow } from '../store/index.js';
import { isUnder } from '../tree/index.js';

/**
 * Who may call a route:
 * - `public`: anyone, with or without a token (the console's files, health checks)
 * - `any`: any valid token (whoami)
 * - `agent` / `join`: an agent's token / a join token
 * - `viewer` / `deployer` / `admin`: a person whose role is at least this somewhere; the handler
 *   then checks the tag it acts on
 * - `server-admin`: only the server's admin token
 */
export type Access = 'public' | 'any' | 'agent' | 'join' | TokenRole | 'server-admin';

export const ACCESS_LEVELS: readonly Access[] = ['public', 'any', 'agent', 'join', 'viewer', 'deployer', 'admin', 'server-admin'];

/** Who is calling: resolved from the bearer token by the gate. */
export interface Principal {
  /** the token's public id: the first 12 hex characters of its sha256 (never the secret) */
  id: string;
  kind: TokenRow['kind'];
  name: string;
  /** the subtree a team token acts on; null: everything (the admin) or not a person */
  scope: string | null;
  /** what a person may do: the admin token is `admin` everywhere */
  role: TokenRole | null;
}

const RANK: Record<TokenRole, number> = { viewer: 1, deployer: 2, admin: 3 };

/** The public id of a token: enough to name it in `noops token ls/revoke`, useless to call with. */
export function tokenId(hash: string): string {
  return hash.slice(0, 12);
}

/** The principal a token row stands for. */
export function principalOf(row: TokenRow): Principal {
  const role = row.kind === 'admin' ? 'admin' : row.kind === 'team' ? (row.role ?? 'viewer') : null;
  return { id: tokenId(row.hash), kind: row.kind, name: row.name, scope: row.kind === 'team' ? row.scope : null, role };
}

/** True when `who` is the server's admin (unscoped). */
export function isServerAdmin(who: Principal): boolean {
  return who.kind === 'admin';
}

/** True when `role` includes `need`. */
export function roleCovers(role: TokenRole | null, need: TokenRole): boolean {
  return role !== null && RANK[role] >= RANK[need];
}

/** Whether `who` may call a route declared with `access` at all (tags are checked later). */
export function mayCall(who: Principal, access: Access): boolean {
  switch (access) {
    case 'public':
    case 'any':
      return true;
    case 'agent':
    case 'join':
      return who.kind === access;
    case 'server-admin':
      return isServerAdmin(who);
    default:
      return (who.kind === 'admin' || who.kind === 'team') && roleCovers(who.role, access);
  }
}

/** Whether `who` may read what is at `tag` (a node, or anything tagged under it). */
export function canSee(who: Principal, tag: string): boolean {
  if (who.kind === 'admin') return true;
  return who.kind === 'team' && who.scope !== null && isUnder(tag, who.scope);
}

/**
 * Whether `who` may see that the node `tag` exists: its own subtree, and the nodes above its scope
 * (so the tree can be walked down to it), but nothing beside it.
 */
export function canSeeNode(who: Principal, tag: string): boolean {
  return canSee(who, tag) || (who.kind === 'team' && who.scope !== null && isUnder(who.scope, tag));
}

/** Throws NOOPS_E_FORBIDDEN unless `who` has at least `need` on `tag`. */
export function authorize(who: Principal, tag: string, need: TokenRole): void {
  if (canSee(who, tag) && roleCovers(who.role, need)) return;
  const scope = who.scope ? ` (it is ${who.role ?? who.kind} on ${who.scope})` : '';
  throw new NoopsError('NOOPS_E_FORBIDDEN', `${who.kind} token "${who.name}" may not ${verb(need)} ${tag}${scope}`, {
    hint: `ask for a token with role ${need} on ${tag} or a node above it`,
  });
}

/** Throws NOOPS_E_FORBIDDEN unless `who` is the server's admin. */
export function requireServerAdmin(who: Principal, what: string): void {
  if (isServerAdmin(who)) return;
  throw new NoopsError('NOOPS_E_FORBIDDEN', `only the server's admin token may ${what}`, { hint: 'ask the noops admin' });
}

/**
 * Answers `thing` when `who` may see `tag`, else throws not-found: an object outside a token's
 * scope looks exactly like one that does not exist, so its name does not leak.
 */
export function visibleOr404<T>(who: Principal, tag: string, thing: T, notFound: () => NoopsError): T {
  if (canSee(who, tag)) return thing;
  throw notFound();
}

function verb(need: TokenRole): string {
  return need === 'viewer' ? 'read' : need === 'deployer' ? 'change' : 'administer';
}
