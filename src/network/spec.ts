/**
 * The address pool's spec, checked at the edge (`PUT /api/v1/network`), and what a change of it
 * does to the subnets already given: pure, so every rule is tested with plain values.
 *
 *   checkSpec(body)  ──► NetworkSpec, or NOOPS_E_NETWORK_INVALID naming the field
 *   planChange(old, next, given, containerHosts)
 *                    ──► { keep, drop }: subnets still in the new pool are kept, the others dropped
 *                        (given again from the new pool), or NOOPS_E_NETWORK_IN_USE when a host
 *                        whose network would change runs a container
 */
import { NETWORK_DRIVERS, type NetworkDriverName, type NetworkSpec } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { type Cidr, checkCidr, formatCidr, overlaps, parseCidr, subnetCount, subnetIndex } from './cidr.js';

/** The longest per-host prefix: a /30 holds the network, the gateway, one container and the broadcast. */
export const MAX_PER_HOST = 30;

/** Linux's interface names: at most 15 characters, no `/` or space. */
const PARENT_RE = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** Blocks no container network may take: this-network, loopback, link-local, multicast and above. */
const RESERVED: [string, string][] = [
  ['0.0.0.0/8', 'this-network'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/3', 'multicast and reserved'],
];

const FIELDS = ['pool', 'perHost', 'driver', 'parent'];

function invalid(field: string, message: string): NoopsError {
  return new NoopsError('NOOPS_E_NETWORK_INVALID', `network set: ${field}: ${message}`);
}

/**
 * The spec a caller sent, checked: a pool that is an IPv4 CIDR (its first address, outside the
 * reserved blocks), a per-host prefix longer than the pool's and at most /30, a driver (bridge by
 * default), and a parent interface exactly when the driver is macvlan.
 *
 * @example checkSpec({ pool: '198.18.0.0/16', perHost: 24 }) // { pool: '198.18.0.0/16', perHost: 24, driver: 'bridge', parent: null }
 * @throws NoopsError NOOPS_E_NETWORK_INVALID naming the field (as its flag)
 */
export function checkSpec(body: unknown): NetworkSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body', 'give {pool, perHost, driver?, parent?}');
  const raw = body as Record<string, unknown>;
  const unknown = Object.keys(raw).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw invalid(unknown, `unknown field "${unknown}" (known: ${FIELDS.join(', ')})`);
  if (typeof raw.pool !== 'string') throw invalid('--pool', 'give the pool as A.B.C.D/N, e.g. 198.18.0.0/15');
  const pool = checkCidr(raw.pool);
  if ('error' in pool) throw invalid('--pool', pool.error);
  for (const [block, what] of RESERVED) {
    if (overlaps(pool, parseCidr(block)))
      throw invalid('--pool', `${formatCidr(pool)} overlaps ${block} (${what}), which no host's network may use`);
  }
  const perHost = raw.perHost;
  if (typeof perHost !== 'number' || !Number.isInteger(perHost))
    throw invalid('--per-host', `give the prefix length of each host's subnet, e.g. 24 (not ${JSON.stringify(perHost)})`);
  if (perHost <= pool.prefix || perHost > MAX_PER_HOST)
    throw invalid(
      '--per-host',
      `/${perHost} must be longer than the pool's /${pool.prefix} and at most /${MAX_PER_HOST} (a subnet needs room for its gateway and a container)`,
    );
  const driver = raw.driver ?? 'bridge';
  if (typeof driver !== 'string' || !(NETWORK_DRIVERS as readonly string[]).includes(driver))
    throw invalid('--driver', `a driver is one of ${NETWORK_DRIVERS.join(', ')} (not ${JSON.stringify(driver)})`);
  const parent = raw.parent ?? null;
  if (parent !== null && (typeof parent !== 'string' || !PARENT_RE.test(parent)))
    throw invalid('--parent', `"${String(parent)}" is not an interface name (at most 15 letters, digits, "_", ".", ":", "@", "-")`);
  if (driver === 'macvlan' && parent === null)
    throw invalid('--parent', 'the macvlan driver needs --parent IF, the host interface its network sits on');
  if (driver === 'bridge' && parent !== null) throw invalid('--parent', 'the bridge driver takes no --parent (a macvlan network does)');
  return { pool: formatCidr(pool), perHost, driver: driver as NetworkDriverName, parent: parent as string | null };
}

/** What a change of spec does to the subnets given so far. */
export interface SpecChange {
  /** hosts whose subnet stays (it is one of the new pool's) */
  keep: string[];
  /** hosts whose subnet goes (each gets one of the new pool at its next poll) */
  drop: string[];
  /** whether every host's network must be made again (another driver or parent) */
  remake: boolean;
}

/**
 * What setting `next` over `old` does to the subnets `given`: those still in the new pool (same
 * per-host prefix, inside the pool) stay; the others are dropped. A host whose network changes (its
 * subnet dropped, or every host when the driver or parent changes) must run no container: its
 * containers' addresses would move under them.
 *
 * @throws NoopsError NOOPS_E_NETWORK_IN_USE naming the hosts that run containers
 */
export function planChange(
  old: NetworkSpec | undefined,
  next: NetworkSpec,
  given: readonly { host: string; subnet: string }[],
  containerHosts: Iterable<string>,
): SpecChange {
  const pool = parseCidr(next.pool);
  const fits = (subnet: string): boolean => {
    const c = checkCidr(subnet);
    return !('error' in c) && subnetIndex(pool, next.perHost, c) !== undefined;
  };
  const keep: string[] = [];
  const drop: string[] = [];
  for (const g of given) (fits(g.subnet) ? keep : drop).push(g.host);
  const remake = old !== undefined && (old.driver !== next.driver || old.parent !== next.parent);
  const affected = new Set(remake ? given.map((g) => g.host) : drop);
  const busy = [...containerHosts].filter((h) => affected.has(h)).sort();
  if (busy.length > 0) {
    const what = remake
      ? `another ${old!.driver === next.driver ? 'parent' : 'driver'} remakes every host's network`
      : 'their subnets are not in the new pool';
    const named = busy.length > 5 ? `${busy.slice(0, 5).join(', ')} and ${busy.length - 5} more` : busy.join(', ');
    throw new NoopsError(
      'NOOPS_E_NETWORK_IN_USE',
      `network set: ${what}, and containers run on ${named}: their addresses would move under them`,
    );
  }
  return { keep, drop, remake };
}

/** How many hosts the pool gives a subnet to. */
export function capacityOf(spec: Pick<NetworkSpec, 'pool' | 'perHost'>): number {
  return subnetCount(parseCidr(spec.pool), spec.perHost);
}

export type { Cidr };
