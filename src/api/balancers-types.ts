/**
 * Wire types of load-balancer pools (issue 16, slide 2.6): a pool bound to a selector of the
 * tree, driven by the noops agent of the balancer's own host.
 *
 *   noops lb set NAME ... ──► PUT /api/v1/balancers/NAME      (a BalancerSpec)
 *   noops lb ls --json    ──► GET /api/v1/balancers            ({balancers: BalancerView[]})
 *   noops lb show NAME    ──► GET /api/v1/balancers/NAME       (a BalancerShow: the pool with its members)
 *   noops lb rm NAME      ──► DELETE /api/v1/balancers/NAME
 *
 *   server ──GET /agent/desired?balancers=INDEX──► the balancer host's agent: `balancers` (DesiredBalancers)
 *   agent  ──POST /agent/balancers──► server: what it applied and what it sees (BalancerReport[])
 */

/** How a pool is driven on its host. */
export const BALANCER_DRIVERS = ['haproxy', 'nginx', 'keepalived'] as const;
export type BalancerDriver = (typeof BALANCER_DRIVERS)[number];

/**
 * A member's state in a pool: `ready` takes traffic; `drain` takes no new traffic and is waited on
 * until its connections are gone (before a stop); `maint` takes none (not healthy, or its host is down).
 */
export const MEMBER_STATES = ['ready', 'drain', 'maint'] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

/** A balancer's name: what `noops lb set NAME` takes. */
export const BALANCER_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** How long a drain waits for connections to end when neither noops.yaml nor the cluster's policy says. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** What `noops lb set` sends (PUT /api/v1/balancers/NAME). Driver-specific keys are checked by the server. */
export interface BalancerSpec {
  /** the selector (a tag at any level) whose instances are the pool's members */
  selector: string;
  /** the host whose noops agent drives the balancer */
  host: string;
  driver: BalancerDriver;
  /** haproxy: the runtime API's socket (`stats socket PATH level admin`) */
  socket?: string;
  /** haproxy: the backend the members are added to */
  backend?: string;
  /** nginx: the upstream file written; keepalived: the file of `virtual_server` blocks written */
  file?: string;
  /** keepalived: the virtual server, ADDR:PORT */
  vip?: string;
  /** only this process of each instance (default: every process with a port) */
  process?: string;
  /** nginx, keepalived: the pid file of the daemon signalled to reload (defaults: /run/nginx.pid, /run/keepalived.pid) */
  pidFile?: string;
  /**
   * nginx: the control API of noops' Lua blocks (`noops lb nginx-conf`), ADDR:PORT (loopback, or
   * the balancer host's own address): the members are set there, without a reload (the file is
   * still written, for nginx's next start)
   */
  api?: string;
}

/** A pool as stored (`noops lb ls --json`). */
export interface BalancerView extends BalancerSpec {
  name: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** One member of a pool (`noops lb show NAME --json`). */
export interface BalancerMember {
  host: string;
  /** the address the instance's host is reached at (its agent's) */
  address: string | null;
  port: number | null;
  /** the instance's canonical cluster tag */
  tag: string;
  version: string;
  /** the state noops wants for it */
  state: MemberState;
  /** the process of the instance */
  process: string;
  /** the name the member has in the balancer (haproxy's server name), stable for host, tag and process */
  id: string;
  /** what the balancer's agent last reported for it: its state there and its open connections (null: unknown) */
  applied?: { state: MemberState | 'absent'; connections: number | null };
}

/** `noops lb show NAME --json`: the pool, its members, and what its agent last reported. */
export interface BalancerShow extends BalancerView {
  members: BalancerMember[];
  /** the agent's last report of this pool (null: none yet) */
  report: BalancerReport | null;
}

/** A member as the balancer host's agent is told it. */
export interface DesiredMember {
  /** the server name in the balancer; stable for host, tag and process (haproxy: `[a-zA-Z0-9_.:-]`) */
  id: string;
  address: string;
  port: number;
  state: MemberState;
  host: string;
  tag: string;
  version: string;
  process: string;
}

/** One pool as the balancer host's agent drives it. */
export interface DesiredBalancer {
  name: string;
  driver: BalancerDriver;
  socket?: string;
  backend?: string;
  file?: string;
  vip?: string;
  pidFile?: string;
  /** nginx: the control API, ADDR:PORT (absent: file and reload) */
  api?: string;
  members: DesiredMember[];
}

/**
 * The pools a host drives, in its desired-state answer (`balancers`, present only for a host that
 * drives at least one, or that asked with `?balancers=INDEX`). `index` changes exactly when the
 * pools do: the agent passes it back so that the poll answers at the next change.
 */
export interface DesiredBalancers {
  index: number;
  pools: DesiredBalancer[];
}

/** What the balancer host's agent applied and sees for one pool (POST /agent/balancers). */
export interface BalancerReport {
  name: string;
  /** the `DesiredBalancers.index` this report follows */
  index: number;
  /** false: the balancer could not be driven (unreachable socket, a reload refused); `error` says why */
  ok: boolean;
  error?: string;
  /** when the agent looked (ISO time) */
  at: string;
  /** every member the balancer holds, by id, with its state there and its open connections (null: the driver cannot tell) */
  members: { id: string; state: MemberState; connections: number | null }[];
}

/** POST /agent/balancers's body. */
export interface BalancerReportBody {
  reports: BalancerReport[];
}
