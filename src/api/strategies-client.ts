/**
 * The API calls of strategies, nodata rules and maintenance windows (issue 15), as functions
 * taking an `ApiClient` (client.ts stays small).
 *
 * @example
 *   const api = new ApiClient(url, token);
 *   await addStrategy(api, { selector: 'cop=xiaomi', metric: 'cpu.idle', func: 'all(#3)', op: '<', right: 5, maxStep: 3, priority: 2 });
 *   (await listStrategies(api, 'cop=xiaomi')).map((s) => s.id);
 */
import type { ApiClient } from './client.js';
import type {
  MaintenanceInput,
  MaintenanceView,
  NodataInput,
  NodataView,
  StrategyApplyBody,
  StrategyApplyResult,
  StrategiesAtView,
  StrategyInput,
  StrategyView,
} from './strategies-types.js';
import { queryString as query } from './query.js';

/** The strategies a token may see, at or under `selector` when given. */
export async function listStrategies(api: ApiClient, selector?: string): Promise<StrategyView[]> {
  return (await api.request<{ strategies: StrategyView[] }>('GET', `/strategies${query({ selector })}`)).strategies;
}

/**
 * `GET /strategies?at=NODE`: how the strategies set at a node or above it stand there: those
 * that apply (what the judge uses for the node's series) and those that do not (replaced by a
 * lower node's for the same metric and tags, or switched off).
 */
export function strategiesAt(api: ApiClient, node: string): Promise<StrategiesAtView> {
  return api.request('GET', `/strategies${query({ at: node })}`);
}

export function addStrategy(api: ApiClient, input: StrategyInput): Promise<StrategyView> {
  return api.request('POST', '/strategies', input);
}

/** Answers the strategy removed. */
export function removeStrategy(api: ApiClient, id: number): Promise<StrategyView> {
  return api.request('DELETE', `/strategies/${id}`);
}

export function applyStrategies(api: ApiClient, body: StrategyApplyBody): Promise<StrategyApplyResult> {
  return api.request('POST', '/strategies/apply', body);
}

export async function listNodata(api: ApiClient, selector?: string): Promise<NodataView[]> {
  return (await api.request<{ rules: NodataView[] }>('GET', `/nodata${query({ selector })}`)).rules;
}

export function addNodata(api: ApiClient, input: NodataInput): Promise<NodataView> {
  return api.request('POST', '/nodata', input);
}

export function removeNodata(api: ApiClient, id: number): Promise<NodataView> {
  return api.request('DELETE', `/nodata/${id}`);
}

/** Open windows (every one, ended included, with `all`). */
export async function listMaintenance(api: ApiClient, opts: { selector?: string; all?: boolean } = {}): Promise<MaintenanceView[]> {
  const q = query({ selector: opts.selector, all: opts.all ? '1' : undefined });
  return (await api.request<{ windows: MaintenanceView[] }>('GET', `/maintenance${q}`)).windows;
}

export function addMaintenance(api: ApiClient, input: MaintenanceInput): Promise<MaintenanceView> {
  return api.request('POST', '/maintenance', input);
}

export function removeMaintenance(api: ApiClient, id: number): Promise<MaintenanceView> {
  return api.request('DELETE', `/maintenance/${id}`);
}
