/**
 * Pure: the members of a pool, their ids and states, and each balancer host's desired pools
 * with their index. The view (view.ts) feeds it what runs; nothing here reads or waits.
 *
 *   candidates (every process of every reporting host: address, port, healthy?)
 *     + a pool's selector (and `process`) ──► its members (no address or port: left out)
 *     + drain marks ──► state: drain (a live mark covers it), else ready (healthy), else maint
 *   the pools a host drives ──► DesiredBalancers { index: 48-bit hash, pools }
 */
import { createHash } from 'node:crypto';
import {
  type BalancerView,
  type DesiredBalancer,
  type DesiredBalancers,
  type DesiredMember,
  type MemberState,
  replicaOf,
} from '../api/index.js';
import { namingSelector } from '../naming/index.js';
import { isUnder, matches, type Selector } from '../tree/index.js';
import type { DrainMark } from './ports.js';

/** The longest member id (haproxy takes longer server names; the agent checks this bound). */
export const MEMBER_ID_MAX = 100;

/** One process that could be a member: what a host's last report says of it. */
export interface Candidate {
  host: string;
  /** its host's agent's address (IPv4-mapped prefix dropped); null: unknown */
  address: string | null;
  port: number | null;
  tag: string;
  version: string;
  process: string;
  /** its process's pid as reported (null: not running); a restart's mark covers only the pids it stopped */
  pid: number | null;
  /** naming's rule: up, its health check passing (or none), its host up */
  healthy: boolean;
}

/**
 * A member's id, its server name in the balancer: `HOST_PROCESS_TAG`, each character outside
 * `[A-Za-z0-9_.:-]` made `_`, at most 100 characters (cut, with a hash of the whole as suffix).
 * Stable for host, tag and process: a new version of the instance takes the same id.
 *
 * @example memberId('h1', 'cop.acme_service.shop_job.web_cluster.dev', 'web') // 'h1_web_cop.acme_service.shop_job.web_cluster.dev'
 */
export function memberId(host: string, tag: string, process: string): string {
  const whole = `${host}_${process}_${tag}`;
  const safe = whole.replace(/[^A-Za-z0-9_.:-]/g, '_');
  if (safe.length <= MEMBER_ID_MAX) return safe;
  const hash = createHash('sha256').update(whole).digest('hex').slice(0, 12);
  return `${safe.slice(0, MEMBER_ID_MAX - hash.length - 1)}_${hash}`;
}

/** Whether two marks are one: the same host, tag, version, `above` and process (the later replaces the other). */
export function sameMark(a: DrainMark, b: DrainMark): boolean {
  return a.host === b.host && a.tag === b.tag && a.version === b.version && a.above === b.above && a.process === b.process;
}

/**
 * Whether clearing the marks of `host` on `tag` removes `d`: every version; with `above`, only the
 * mark of the replicas above it; with `process`, only that process's.
 */
export function clearedBy(d: DrainMark, host: string, tag: string, above?: number, process?: string): boolean {
  return d.host === host && d.tag === tag && (above === undefined || d.above === above) && (process === undefined || d.process === process);
}

/**
 * Whether a mark covers a member: its host, its tag or beneath, its version (null: any), its
 * replica (above `above`, when set), its process (and its replicas, when the mark names one), and,
 * for a mark of some pids (a restart's), any instance but a new one: a process of another pid that
 * is healthy (a member known by id alone is covered).
 */
export function covers(
  mark: DrainMark,
  m: { host: string; tag: string; version: string; process?: string; pid?: number | null; healthy?: boolean },
): boolean {
  return (
    mark.host === m.host &&
    isUnder(m.tag, mark.tag) &&
    (mark.version === null || mark.version === m.version) &&
    (mark.above === undefined || (m.process === undefined ? 1 : replicaOf(m.process).replica) > mark.above) &&
    (mark.process === undefined || m.process === undefined || replicaOf(m.process).process === mark.process) &&
    (mark.pids === undefined || !isNewHealthy(m, mark.pids))
  );
}

/**
 * A restarted process back: another pid than those the mark stopped, and healthy. One still
 * starting stays covered (drain), so that its pools change once, drain to ready, not drain to
 * maint to ready (a change applied while another one is applied joins late).
 */
function isNewHealthy(m: { pid?: number | null; healthy?: boolean }, pids: readonly number[]): boolean {
  return m.healthy === true && m.pid !== undefined && m.pid !== null && !pids.includes(m.pid);
}

/** The marks still in force at `now` (ms since the epoch). */
export function liveMarks(marks: readonly DrainMark[], now: number): DrainMark[] {
  return marks.filter((m) => Date.parse(m.until) > now);
}

/** The state noops wants for a candidate. */
export function stateOf(c: Candidate, marks: readonly DrainMark[]): MemberState {
  if (marks.some((m) => covers(m, c))) return 'drain';
  return c.healthy ? 'ready' : 'maint';
}

const RANK: Record<MemberState, number> = { ready: 0, drain: 1, maint: 2 };

/** A pool's selector, parsed once per text (a pool's selector is stored canonical). */
const selectors = new Map<string, Selector | null>();
function selectorOf(text: string): Selector | null {
  let s = selectors.get(text);
  if (s === undefined) {
    try {
      s = namingSelector(text);
    } catch {
      s = null; // a stored selector that no longer parses selects nothing (the pool is then empty, not an error for all)
    }
    if (selectors.size > 10_000) selectors.clear();
    selectors.set(text, s);
  }
  return s;
}

/**
 * The members of a pool: every candidate with an address and a port under its selector (only
 * `process` when it names one), sorted by id. Two candidates with one id (the old and the new
 * version of an instance while both are reported) make one member: the one taking traffic
 * (ready, then drain, then maint), then the later version.
 */
export function membersOf(
  pool: Pick<BalancerView, 'selector' | 'process'>,
  candidates: readonly Candidate[],
  marks: readonly DrainMark[],
): DesiredMember[] {
  const selector = selectorOf(pool.selector);
  if (selector === null) return [];
  const byId = new Map<string, DesiredMember>();
  const matched = new Map<string, boolean>();
  for (const c of candidates) {
    if (c.address === null || c.port === null) continue;
    // every replica of the process (web, web@2, ...) is a member of its own (its id names it)
    if (pool.process && c.process !== pool.process && replicaOf(c.process).process !== pool.process) continue;
    let ok = matched.get(c.tag);
    if (ok === undefined) matched.set(c.tag, (ok = matches(selector, c.tag)));
    if (!ok) continue;
    const id = memberId(c.host, c.tag, c.process);
    const m: DesiredMember = {
      id,
      address: c.address,
      port: c.port,
      state: stateOf(c, marks),
      host: c.host,
      tag: c.tag,
      version: c.version,
      process: c.process,
    };
    const other = byId.get(id);
    if (other === undefined || RANK[m.state] < RANK[other.state] || (RANK[m.state] === RANK[other.state] && m.version > other.version))
      byId.set(id, m);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A pool as its host's agent is told it. */
export function desiredPool(pool: BalancerView, members: DesiredMember[]): DesiredBalancer {
  const out: DesiredBalancer = { name: pool.name, driver: pool.driver, members: [] };
  // a key the pool does not set (undefined, or null as a row may hold it) is left out
  for (const key of ['socket', 'backend', 'file', 'vip', 'pidFile', 'api'] as const) {
    const value: string | null | undefined = pool[key];
    if (typeof value === 'string') out[key] = value;
  }
  out.members = members;
  return out;
}

/** A pool's digest: the sha256 of its JSON (what a host's index is made of). */
export function poolDigest(pool: DesiredBalancer): string {
  return createHash('sha256').update(JSON.stringify(pool)).digest('hex');
}

/** The index of a host's pools from their digests, in the pools' order: 48 bits, never 0. */
export function indexOfDigests(digests: readonly string[]): number {
  return createHash('sha256').update(digests.join(',')).digest().readUIntBE(0, 6) || 1;
}

/** The index of a host's pools (sorted by name): 48 bits of their hash, never 0; the same on every server. */
export function balancersIndex(pools: readonly DesiredBalancer[]): number {
  return indexOfDigests(pools.map(poolDigest));
}

/** A host's desired pools (sorted by name) with their index. */
export function desiredBalancers(pools: DesiredBalancer[]): DesiredBalancers {
  const sorted = [...pools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { index: balancersIndex(sorted), pools: sorted };
}

/** Whether a pool's selector selects `tag` (whatever its `process`). */
export function selects(pool: Pick<BalancerView, 'selector'>, tag: string): boolean {
  const selector = selectorOf(pool.selector);
  return selector !== null && matches(selector, tag);
}
