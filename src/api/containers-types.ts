/**
 * Wire types of containers and their addresses (issue 17, slides 3.2 and 3.3): a job's processes
 * run as host processes (as before) or in containers on the host's Docker Engine, chosen per job;
 * each container has its own address from a pool the server manages.
 *
 *   noops.yaml `driver: container`, or `noops cluster set -t TAG --driver container`
 *     ──► DesiredInstance.driver (resolved at write time: noops.yaml, else the cluster's policy, else `process`)
 *   noops.yaml `resources`, `volumes`, `image` ──► ReleaseManifest (ManifestResources, ManifestVolume)
 *   noops network set --pool CIDR --per-host 24 ──► PUT /api/v1/network (a NetworkSpec)
 *   noops network show [--json]                 ──► GET /api/v1/network (a NetworkView)
 *   server ──GET /agent/desired──► agent: `network` (HostNetwork: this host's subnet)
 *   agent  ──report──► server: ProcessReport.container, .address, .oom
 */

/** How a job's processes run on a host. */
export const PROCESS_DRIVERS = ['process', 'container'] as const;
export type ProcessDriverName = (typeof PROCESS_DRIVERS)[number];

/** The Docker network driver of the network noops creates on each host. */
export const NETWORK_DRIVERS = ['bridge', 'macvlan'] as const;
export type NetworkDriverName = (typeof NETWORK_DRIVERS)[number];

export type { ManifestResources, ManifestVolume } from '../release/index.js';

/** What `noops network set` sends (PUT /api/v1/network). */
export interface NetworkSpec {
  /** the pool every host's subnet is cut from, e.g. `198.18.0.0/15` */
  pool: string;
  /** the prefix length of each host's subnet (24: 254 containers a host) */
  perHost: number;
  driver: NetworkDriverName;
  /** macvlan only: the host's interface the network sits on */
  parent: string | null;
}

/** GET /api/v1/network: the pool and the subnet each host was given. */
export interface NetworkView extends NetworkSpec {
  hosts: { host: string; subnet: string }[];
  updatedAt: string;
}

/**
 * This host's part of the network, in its desired state: the agent makes (or keeps) one Docker
 * network of this name, subnet and driver, and starts every container on it.
 */
export interface HostNetwork {
  /** the Docker network's name on the host (`noops`) */
  name: string;
  subnet: string;
  gateway: string;
  driver: NetworkDriverName;
  parent: string | null;
}

/** The labels on everything noops creates in the engine; nothing without `noops.owned` is touched. */
export const CONTAINER_LABELS = {
  owned: 'noops.owned',
  tag: 'noops.tag',
  process: 'noops.process',
  version: 'noops.version',
  host: 'noops.host',
} as const;
