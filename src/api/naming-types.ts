/**
 * Wire types of naming (issue 16): who answers for a selector, and who depends on whom.
 * `GET /api/v1/naming/SELECTOR` answers a `NamingAnswer`; `GET /api/v1/deps?selector=` a `DepsView`.
 */

/** One healthy process of one instance: where to reach it. */
export interface NamingEndpoint {
  host: string;
  /** the address the host's agent joined from (IPv4 or IPv6); null when unknown */
  address: string | null;
  /** the port it listens on (noops.yaml's `port`); null for a process without one */
  port: number | null;
  /** the process name (web, worker, ...) */
  process: string;
  /** the instance's canonical cluster tag */
  tag: string;
  version: string;
}

/**
 * The healthy endpoints under a selector. `index` changes exactly when the endpoints change
 * (a hash of them, the same on every server): pass it back as `?index=N&wait=30s` to wait
 * for the next change (Consul's blocking query).
 */
export interface NamingAnswer {
  index: number;
  endpoints: NamingEndpoint[];
}

/** Longest `wait` of a blocking naming query; a longer one is cut to this. */
export const NAMING_MAX_WAIT_MS = 5 * 60_000;
/** `wait` when `index` is given without one. */
export const NAMING_DEFAULT_WAIT_MS = 30_000;

/** One edge of who depends on whom: `from` (a job's tag) calls what `to` selects. */
export interface DepEdge {
  /** the caller: a job's canonical tag (observed: the jobs running on the host that asked) */
  from: string;
  /** what it calls: a canonical selector (`cop=acme,service=shop`) */
  to: string;
  /** in the caller's noops.yaml (`depends_on:`) */
  declared: boolean;
  /** seen in naming lookups (HTTP or DNS) */
  observed: boolean;
  /** the last lookup seen (observed only) */
  lastSeen: string | null;
}

/** `noops deps -t SELECTOR`: what the selected services use, and who uses them. */
export interface DepsView {
  selector: string;
  uses: DepEdge[];
  usedBy: DepEdge[];
}
