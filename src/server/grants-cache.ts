/**
 * The nodes under which processes may run as root, as every desired-state answer needs them:
 * read from the store at most once per GRANTS_FRESH_MS (not once per long poll: 1,000 parked
 * polls answered at once made 1,000 reads), and again at once after a change on this server.
 */
import type { Store } from '../store/index.js';

/** How stale another server's `noops root allow|deny` may be here: a second, like a revoked token. */
export const GRANTS_FRESH_MS = 1_000;

const cached = new WeakMap<Store, { at: number; scopes: Promise<string[]> }>();

/** The scopes of every root grant. */
export function rootScopes(store: Store, now = Date.now()): Promise<string[]> {
  const hit = cached.get(store);
  if (hit && now - hit.at < GRANTS_FRESH_MS) return hit.scopes;
  const scopes = store.listGrants().then((rows) => rows.filter((g) => g.grant === 'root').map((g) => g.scope));
  scopes.catch(() => cached.delete(store)); // an error is asked again next time, not kept
  cached.set(store, { at: now, scopes });
  return scopes;
}

/** Forgets what was read: the next answer reads the grants again (after a change here). */
export function grantsChanged(store: Store): void {
  cached.delete(store);
}
