/**
 * IPv4 blocks, pure: parse a CIDR, cut a pool into equal subnets, find a subnet's place in its
 * pool, and a subnet's gateway (its first address). Addresses are held as unsigned 32-bit numbers.
 *
 * @example
 *   const pool = parseCidr('198.18.0.0/16');   // { base: 3323068416, prefix: 16 }
 *   subnetCount(pool, 24);                     // 256
 *   formatCidr(subnetAt(pool, 24, 3));          // '198.18.3.0/24'
 *   gatewayOf(parseCidr('198.18.3.0/24'));      // '198.18.3.1'
 */

/** An IPv4 block: its first address (a 32-bit number) and its prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A dotted IPv4 address as a number; undefined when it is not one (no leading zeros, four octets). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** A number as a dotted IPv4 address. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** How many addresses a block of `prefix` holds. */
export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/**
 * `A.B.C.D/N` as a block, or a reason it is not one: the address must be the block's first (a
 * pool of `198.18.0.1/16` is a typo, refused rather than guessed).
 */
export function checkCidr(text: string): Cidr | { error: string } {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return { error: `"${text}" is not an IPv4 CIDR (A.B.C.D/N)` };
  const base = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (base === undefined) return { error: `"${m[1]}" is not an IPv4 address` };
  if (prefix > 32) return { error: `/${prefix} is not a prefix length (0 to 32)` };
  if (base % blockSize(prefix) !== 0) {
    const first = base - (base % blockSize(prefix));
    return { error: `${text} is not the start of its block: did you mean ${formatIpv4(first)}/${prefix}?` };
  }
  return { base, prefix };
}

/** `A.B.C.D/N` as a block; throws on anything else (for values already checked). */
export function parseCidr(text: string): Cidr {
  const c = checkCidr(text);
  if ('error' in c) throw new Error(c.error);
  return c;
}

/** A block as `A.B.C.D/N`. */
export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

/** How many subnets of `perHost` the pool holds. */
export function subnetCount(pool: Cidr, perHost: number): number {
  return perHost < pool.prefix ? 0 : 2 ** (perHost - pool.prefix);
}

/** The pool's `index`th subnet of `perHost` (0 is the first). */
export function subnetAt(pool: Cidr, perHost: number, index: number): Cidr {
  return { base: pool.base + index * blockSize(perHost), prefix: perHost };
}

/** Where `subnet` is in the pool (its index), or undefined when it is not one of the pool's subnets of `perHost`. */
export function subnetIndex(pool: Cidr, perHost: number, subnet: Cidr): number | undefined {
  if (subnet.prefix !== perHost || !contains(pool, subnet)) return undefined;
  return (subnet.base - pool.base) / blockSize(perHost);
}

/** Whether `inner` lies wholly inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return (
    inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + blockSize(inner.prefix) <= outer.base + blockSize(outer.prefix)
  );
}

/** Whether two blocks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + blockSize(b.prefix) && b.base < a.base + blockSize(a.prefix);
}

/** A subnet's gateway: its first address after the network's own (`198.18.3.0/24` -> `198.18.3.1`). */
export function gatewayOf(subnet: Cidr): string {
  return formatIpv4(subnet.base + 1);
}

/**
 * The lowest index of the pool not in `taken`: the deterministic choice of the next host's subnet
 * (the same on every server given the same rows). Undefined when the pool is full.
 */
export function lowestFree(pool: Cidr, perHost: number, taken: Iterable<number>): number | undefined {
  const used = new Set(taken);
  const count = subnetCount(pool, perHost);
  for (let i = 0; i < count; i++) if (!used.has(i)) return i;
  return undefined;
}
