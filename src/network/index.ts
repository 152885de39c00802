/**
 * The containers' address pool (issue 17, slide 3.3): the spec (`noops network set`), checked at
 * the edge; each host's subnet, given the first time its desired state is resolved after a pool
 * is set, and kept; the host's `HostNetwork` in its desired state. See README.md and docs/containers.md, "Network and addresses".
 *
 * @example
 *   import { NetworkBook, checkSpec } from '../network/index.js';
 *   const book = new NetworkBook({ store, bus });
 *   await book.set(checkSpec({ pool: '198.18.0.0/16', perHost: 24 }), 'admin');
 *   await book.hostNetwork('h1'); // { name: 'noops', subnet: '198.18.0.0/24', gateway: '198.18.0.1', driver: 'bridge', parent: null }
 */
export { NETWORK_NAME, NetworkBook, hostNetworkOf, specOf, type NetworkBookDeps } from './book.js';
export { MAX_PER_HOST, capacityOf, checkSpec, planChange, type SpecChange } from './spec.js';
export {
  type Cidr,
  checkCidr,
  contains,
  formatCidr,
  formatIpv4,
  gatewayOf,
  lowestFree,
  overlaps,
  parseCidr,
  parseIpv4,
  subnetAt,
  subnetCount,
  subnetIndex,
} from './cidr.js';
