/**
 * The console's addresses: hash routes (`#/n/TAG`), so every page is a link that can be shared,
 * bookmarked and opened in a new tab, and the server serves one page for all of them.
 */

export type Route =
  | { page: 'home' }
  | { page: 'node'; tag: string }
  | { page: 'hosts' }
  | { page: 'servers' }
  | { page: 'deployment'; id: number }
  | { page: 'missing'; hash: string };

/** Links to every page. */
export const href = {
  home: (): string => '#/',
  node: (tag: string): string => `#/n/${encodeURIComponent(tag)}`,
  hosts: (): string => '#/hosts',
  servers: (): string => '#/servers',
  deployment: (id: number): string => `#/d/${id}`,
};

/**
 * The page a location hash names.
 *
 * @example
 *   parseRoute('#/n/cop.acme_owt.web') // { page: 'node', tag: 'cop.acme_owt.web' }
 */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  if (path === '' || path === '/') return { page: 'home' };
  if (path === '/hosts') return { page: 'hosts' };
  if (path === '/servers') return { page: 'servers' };
  const node = /^\/n\/(.+)$/.exec(path);
  if (node) {
    try {
      const tag = decodeURIComponent(node[1]!);
      if (tag.trim() !== '') return { page: 'node', tag };
    } catch {
      // a malformed escape: the page is missing
    }
  }
  const dep = /^\/d\/([1-9][0-9]{0,15})$/.exec(path);
  if (dep) return { page: 'deployment', id: Number(dep[1]) };
  return { page: 'missing', hash };
}
