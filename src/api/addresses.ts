/**
 * Where a process is reached: the one answer naming, the load balancers and the deploy tests
 * share (issue 17). A process run as a container reports its own address; any other is reached
 * at its host's: the host's `address` label when it has one (a host behind NAT, or with several
 * interfaces), else the address its agent connects from.
 *
 * @example
 *   processAddress({ address: '198.18.3.2' }, host)                     // '198.18.3.2'
 *   processAddress({}, { labels: { address: '10.0.0.5' }, address: '::ffff:10.1.1.1' }) // '10.0.0.5'
 *   processAddress({ address: null }, { labels: {}, address: '::ffff:10.1.1.1' })       // '10.1.1.1'
 */

/** What a host's row holds of its address. */
export interface HostAddressSource {
  labels?: Record<string, string>;
  /** where its agent connects from (`::ffff:10.1.1.1` for IPv4 on a dual-stack socket) */
  address: string | null;
}

/** An address as a socket saw it, without the IPv4-mapped prefix (`::ffff:10.1.1.1` -> `10.1.1.1`). */
export function plainAddress(address: string | null): string | null {
  if (address === null) return null;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** A host's address: its `address` label, else where its agent connects from; null when neither is known. */
export function hostAddressOf(host: HostAddressSource | null | undefined): string | null {
  if (host === null || host === undefined) return null;
  return plainAddress(host.labels?.address || host.address);
}

/** The address of one process: the one it reports (a container's own), else its host's. */
export function processAddress(process: { address?: string | null }, host: HostAddressSource | null | undefined): string | null {
  return process.address || hostAddressOf(host);
}
