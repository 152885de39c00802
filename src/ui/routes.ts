/**
 * The console's addresses: hash routes (`#/n/TAG`), so every page is a link that can be shared,
 * bookmarked and opened in a new tab, and the server serves one page for all of them.
 */
import { queryString } from '../api/index.js';

export type Route =
  | { page: 'home' }
  | { page: 'node'; tag: string }
  | { page: 'hosts' }
  | { page: 'servers' }
  | { page: 'deployment'; id: number }
  | { page: 'metrics'; q: MetricsQuery }
  | { page: 'alarms'; q: AlarmsQuery }
  | { page: 'missing'; hash: string };

/**
 * What the metrics page shows, all in its address: the series picked by selector, host and metric,
 * the series charted (`key`), and the range (a named one, or a zoomed `from`-`to` in seconds).
 * `host` alone charts that host's base metrics.
 */
export interface MetricsQuery {
  selector?: string;
  host?: string;
  metric?: string;
  key?: string;
  range?: string;
  from?: number;
  to?: number;
}

/** What the alarms page shows: `status` (problem by default, or all) and a selector. */
export interface AlarmsQuery {
  status?: string;
  selector?: string;
}

const METRICS_TEXT = ['selector', 'host', 'metric', 'key', 'range'] as const;

/** Links to every page. */
export const href = {
  home: (): string => '#/',
  node: (tag: string): string => `#/n/${encodeURIComponent(tag)}`,
  hosts: (): string => '#/hosts',
  servers: (): string => '#/servers',
  deployment: (id: number): string => `#/d/${id}`,
  metrics: (q: MetricsQuery = {}): string => `#/metrics${queryString({ ...q })}`,
  alarms: (q: AlarmsQuery = {}): string => `#/alarms${queryString({ ...q })}`,
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
  const mark = path.indexOf('?');
  const where = mark < 0 ? path : path.slice(0, mark);
  if (where === '/metrics' || where === '/alarms') {
    const params = new URLSearchParams(mark < 0 ? '' : path.slice(mark + 1));
    if (where === '/alarms') return { page: 'alarms', q: dropEmpty({ status: params.get('status'), selector: params.get('selector') }) };
    const q: MetricsQuery = dropEmpty(Object.fromEntries(METRICS_TEXT.map((k) => [k, params.get(k)])));
    const from = Number(params.get('from'));
    const to = Number(params.get('to'));
    if (params.has('from') && params.has('to') && Number.isInteger(from) && Number.isInteger(to) && from < to)
      Object.assign(q, { from, to });
    return { page: 'metrics', q };
  }
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

/** The pairs whose value is a non-empty string. */
function dropEmpty(o: Record<string, string | null | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string' && v !== '') out[k] = v;
  return out;
}
