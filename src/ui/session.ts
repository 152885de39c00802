/**
 * The console's token: taken once from `/?token=...` (then removed from the address bar, as
 * Jupyter does) or from the login form, and kept in sessionStorage, so it lives as long as the
 * tab and never lands in a bookmark, the history or a Referer header.
 */

/** The sessionStorage key of the token. */
export const TOKEN_KEY = 'noops.token';

/** The parts of `window` the token handling needs (a fake in tests). */
export interface TokenPlace {
  /** the page's full URL */
  href: string;
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** replaces the address bar's URL without a reload (history.replaceState) */
  replace(url: string): void;
}

/**
 * Moves a `token` query parameter into storage and out of the address bar; answers the token
 * in force (null: show the login form).
 *
 * @example
 *   takeToken({ href: location.href, storage: sessionStorage, replace: (u) => history.replaceState(null, '', u) })
 */
export function takeToken(place: TokenPlace): string | null {
  const url = new URL(place.href);
  if (url.searchParams.has('token')) {
    const given = (url.searchParams.get('token') ?? '').trim();
    url.searchParams.delete('token');
    place.replace(`${url.pathname}${url.search}${url.hash}`);
    if (given !== '') place.storage.setItem(TOKEN_KEY, given);
  }
  const kept = place.storage.getItem(TOKEN_KEY);
  return kept && kept.trim() !== '' ? kept : null;
}

/** Keeps a token that the login form accepted. */
export function keepToken(storage: TokenPlace['storage'], token: string): void {
  storage.setItem(TOKEN_KEY, token.trim());
}

/** Forgets the token (sign out, or the server refused it). */
export function forgetToken(storage: TokenPlace['storage']): void {
  storage.removeItem(TOKEN_KEY);
}

/** Who may use the console: people's tokens. Agent and join tokens are for machines. */
export function consoleRefusal(kind: string): string | null {
  if (kind === 'admin' || kind === 'team') return null;
  return `this is ${kind === 'agent' ? 'an agent' : `a ${kind}`} token, which machines use; the console needs an admin or team token (the admin token is in the server's data folder, admin.token)`;
}

/**
 * What the login form says after the server refused the token in use (revoked, expired, ...).
 *
 * @example
 *   refusedNotice('the token "web-ci" expired at 2030-01-01T00:00:00.000Z')
 *   // 'You were signed out: the token "web-ci" expired at 2030-01-01T00:00:00.000Z. Sign in again with a valid token.'
 */
export function refusedNotice(reason: string): string {
  return `You were signed out: ${reason.trim().replace(/\.$/, '')}. Sign in again with a valid token.`;
}
