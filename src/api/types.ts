/**
 * What crosses the wire: request and response bodies of the HTTP API (`/api/v1`), shared by the
 * server's routes, the typed client, the CLI, the agent and the web console. camelCase throughout.
 */
import type { ReleaseManifest } from '../release/index.js';
import type { HostRuntimeReport, RuntimeExports, RuntimeRef } from '../runtimes/index.js';
import type { ReleaseSignature, SigningKey } from '../release/index.js';
export type { ReleaseSignature, SigningKey };

export type { HostRuntimeReport, RuntimeExports, RuntimeRef };
import type { DeploymentStatusView, PolicyOverrides, RolloutProgress } from './rollout-types.js';
import type { DesiredBalancers } from './balancers-types.js';
import type { HostNetwork, ProcessDriverName } from './containers-types.js';
import type { HostCapacity, HostResources, ScheduleSpec } from './schedule-types.js';

export type * from './rollout-types.js';

export const API_PREFIX = '/api/v1';

/** GET /hosts */
export interface HostView {
  name: string;
  status: 'up' | 'down';
  labels: Record<string, string>;
  lastHeartbeat: string | null;
  address: string | null;
  joinedAt: string;
  /** the node of the tree the host belongs to (`noops host assign`); null: unassigned */
  scope: string | null;
  /** a join under this name that was refused while the host was live (`noops host approve`) */
  pendingJoin: { at: string; address: string | null } | null;
  /**
   * Whether the host's agent applies this server's desired state, as it last reported it
   * (docs/trust.md); absent until it reports it (agents before issue 12 never do).
   */
  trust?: TrustReport;
  /** what the host offers the scheduler, as its agent last reported it (issue 18); absent until it does */
  capacity?: HostCapacity;
  /** what the clusters placed on the host ask of it (the sum of their `cpu` and `memory`; disk 0) */
  allocated?: HostResources;
  /** set by `noops host drain`: the scheduler places nothing here and moves what it placed elsewhere */
  draining?: boolean;
}

/** POST /hosts/:name/adopt: what adopting the host's agent did, or (refused without `yes`) would do */
export interface HostAdoptView {
  host: string;
  /** the agent's refusal that was adopted */
  refusal: string;
  /** why the agent refused */
  reason: string;
  /** the host's desired-state generation after the adoption */
  generation: number;
  stops: { tag: string; version: string }[];
  switches: { tag: string; from: string; to: string }[];
  starts: { tag: string; version: string }[];
  keeps: { tag: string; version: string }[];
}

/** GET /whoami: the caller, as the server sees its token */
export interface WhoamiView {
  /** the token's public id (the start of its sha256), as `noops token ls` shows it */
  id: string;
  kind: 'admin' | 'team' | 'agent' | 'join';
  name: string;
  scope: string | null;
  role: 'viewer' | 'deployer' | 'admin' | null;
}

/** GET /tokens: one token (never its secret) */
export interface TokenView {
  id: string;
  kind: 'admin' | 'team' | 'agent' | 'join';
  name: string;
  scope: string | null;
  role: 'viewer' | 'deployer' | 'admin' | null;
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  /** join tokens: joins left; null = no limit */
  usesLeft: number | null;
}

/** GET /secrets: one secret, never its value */
export interface SecretView {
  /** the node of the tree it serves: every job at or under it */
  scope: string;
  name: string;
  /** 1 at the first `set`, one more at each `set` after it */
  version: number;
  updatedBy: string;
  updatedAt: string;
  createdAt: string;
}

/** PUT /secrets/NAME */
export interface SecretSetRequest {
  scope: string;
  value: string;
}
/** POST /tokens: a team token (a role on a subtree), or a join token for new hosts */
export type TokenCreateRequest =
  | { kind: 'team'; name: string; scope: string; role?: 'viewer' | 'deployer' | 'admin'; expiresAt?: string }
  | { kind: 'join'; name: string; uses?: number; expiresAt?: string };

/** POST /tokens: the new token; `token` is its secret, shown this once */
export interface TokenCreated extends TokenView {
  token: string;
}

/** GET /grants: root allowed under a node of the tree (`noops root allow --scope TAG`) */
export interface RootGrantView {
  /** the node: processes under it may run as root */
  scope: string;
  createdBy: string;
  createdAt: string;
}

/** GET /instances: one supervised process of one instance, as its host last reported it */
export interface InstanceView extends ProcessReport {
  host: string;
  updatedAt: string;
}

/** GET /releases */
export interface ReleaseView {
  job: string;
  version: string;
  commit: string;
  repo: string;
  sha256: string;
  size: number;
  createdAt: string;
  buildId: number | null;
  manifest: ReleaseManifest;
  /**
   * the release's signature, checked against the server's key (docs/trust.md#signed-releases):
   * signed; unsigned and invalid (changed after signing) releases are refused by every agent;
   * other-key: signed by a key that is not this server's
   */
  signature: { state: 'signed' | 'unsigned' | 'other-key' | 'invalid'; keyId: string | null };
}

/** GET /runtimes: one version of one runtime */
export interface RuntimeView {
  name: string;
  version: string;
  sha256: string;
  size: number;
  /** `os/arch` (`linux/x64`) or `any` */
  platform: string;
  exports: RuntimeExports;
  /** the folder of the tarball that holds bin/ ('' for the top) */
  root: string;
  createdBy: string;
  createdAt: string;
  /** the hosts whose last report lists it installed */
  hosts: string[];
}

/** POST /runtimes?name=&version=[&platform=][&exports=JSON], the tarball as the body */
export interface RuntimeAddQuery {
  name: string;
  version: string;
  /** default: read from the programs in bin/ (`any` when there are none) */
  platform?: string;
  /** default: bin on PATH, and NODE_HOME / JAVA_HOME / ... for the well-known names */
  exports?: RuntimeExports;
}

/** GET /builds/:id */
export interface BuildView {
  id: number;
  repo: string;
  job: string;
  ref: string;
  status: 'running' | 'succeeded' | 'failed';
  version: string | null;
  initiator: string;
  startedAt: string;
  endedAt: string | null;
  error: { code: string; message: string; hint: string } | null;
}

/** GET /builds/:id?logOffset=N: the build and its log from that offset */
export interface BuildProgress {
  build: BuildView;
  log: string;
  logOffset: number;
}

/** GET /history, GET /deployments/:id: one deployment (a row of the deploy history) */
export interface DeploymentView {
  id: number;
  tag: string;
  version: string;
  /** `undeploy`: its hosts stop the cluster's instances; `version` is the one they ran */
  kind: 'deploy' | 'rollback' | 'undeploy';
  initiator: string;
  startedAt: string;
  endedAt: string | null;
  hostCount: number;
  hosts: string[];
  status: DeploymentStatusView;
  previous: Record<string, string | null>;
  /** per host, in words: 'pending', 'succeeded', 'failed: REASON', 'reverted', ... */
  hostResults: Record<string, string>;
  message: string | null;
  /** the policy in force (cluster.conf keys) */
  conf: Record<string, unknown>;
  /** the plan and where it is; null for deployments recorded before batched rollouts */
  progress: RolloutProgress | null;
}

/** GET /clusters */
export interface ClusterView {
  tag: string;
  hosts: string[];
  policy: Record<string, unknown>;
  conf: string | null;
  updatedAt: string;
  /** the version of the newest succeeded deployment, if any */
  currentVersion: string | null;
  /** hosts that left the cluster and the undeploy that stops what they ran (set/apply with `yes`) */
  stopping?: { deployment: number; stops: StopPlanItem[] };
  /** how the cluster is placed when it names a count instead of hosts (issue 18); absent: hosts named by hand */
  schedule?: ScheduleSpec;
  /** a scheduled cluster's hosts that run more than one instance, with their count (absent: one on each; docs/scheduler.md#replicas) */
  replicas?: Record<string, number>;
}

/** One instance a change of a cluster stops: a host leaving it, and the version it runs there. */
export interface StopPlanItem {
  host: string;
  tag: string;
  version: string;
}

/** GET /tree */
export interface TreeView {
  roots: TreeNodeView[];
  text: string;
}
export interface TreeNodeView {
  tag: string;
  level: string;
  name: string;
  /** distinct hosts of the clusters under the node */
  hosts: number;
  /** how many of those hosts are down */
  hostsDown: number;
  /** instances (one cluster's job on one host) under the node */
  instances: number;
  /** instances whose every process is up */
  instancesUp: number;
  health: Health;
  /** a deployment is running on a cluster under the node */
  deploying: boolean;
  children: TreeNodeView[];
}

/**
 * A node's health in one word: `ok` (every host and instance up), `degraded` (some are not),
 * `down` (every host down, or no instance up), `idle` (nothing runs, no host down).
 */
import type { Health } from '../tree/index.js';
export type { Health };

/** GET /nodes/:tag: one node of the tree with what lies under it (the console's node page) */
export interface NodeView {
  /** the node with its counts and its subtree */
  node: TreeNodeView;
  /** the path from the root down to the node, for breadcrumbs */
  path: { tag: string; level: string; name: string }[];
  /** the hosts of the clusters under the node, with the clusters each belongs to */
  hosts: (HostView & { clusters: string[] })[];
  /** every process of every instance under the node */
  instances: InstanceView[];
  /** the jobs under the node (or, for a cluster, its job) */
  jobs: JobSummary[];
  /** when the node is a cluster: the cluster, its current release and its running deployment */
  cluster: ClusterDetail | null;
}

export interface JobSummary {
  tag: string;
  name: string;
  releases: number;
  latestRelease: { version: string; createdAt: string } | null;
  clusters: ClusterSummary[];
}

export interface ClusterSummary {
  tag: string;
  name: string;
  hosts: number;
  currentVersion: string | null;
  /** the id of its running deployment, if one runs */
  running: number | null;
}

export interface ClusterDetail extends ClusterView {
  /** the release that runs now (the newest succeeded deployment's), if it is still stored */
  current: ReleaseView | null;
  /** the running deployment, if any */
  running: DeploymentView | null;
}

/** GET /audit */
export interface AuditView {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

/** Bodies the CLI sends. */
export interface BuildRequest {
  /** a password in an http(s) URL is used for this build only: the build shows `https://user@host/...` */
  repo: string;
  tag: string;
  ref: string;
  /** a secret at or above the job holding `user:password` or a token, sent to git as a header */
  credential?: string;
}
export interface ClusterSetRequest {
  tag: string;
  /** the hosts; may be left out to change only the policy of an existing cluster */
  hosts?: string[];
  /** policy keys to set (cluster.conf's), merged over the cluster's */
  policy?: PolicyOverrides;
  /** go ahead when hosts leave the cluster and their instances would stop (else NOOPS_E_UNDEPLOY_CONFIRM, nothing changed) */
  yes?: boolean;
  /**
   * a count instead of hosts (issue 18): the cluster becomes scheduled, its current hosts its first
   * placements; not with `hosts` (which make it hand-placed again)
   */
  schedule?: ScheduleSpec;
}
export interface ClusterApplyRequest {
  conf: string;
  /** as ClusterSetRequest's */
  yes?: boolean;
}
/** POST /undeploys: stop a cluster's instances, in batches, recorded in the history */
export interface UndeployRequest {
  tag: string;
  /** policy keys that override the cluster's for this undeploy only (batch, pause, timeout, ...) */
  policy?: PolicyOverrides;
}
/** POST /releases/import?tag=TAG[&url=URL]: a release from a package built elsewhere */
export interface ReleaseImportQuery {
  /** the job (or one of its clusters) the package is for; its manifest must name that job */
  tag: string;
  /** fetch the package from this http(s) URL (else the request body is the package) */
  url?: string;
}
export interface DeployRequest {
  tag: string;
  /** default: the version the cluster's cluster.conf names */
  version?: string;
  /** seconds a batch may take before it fails (the policy's `timeout`) */
  timeout?: number;
  /** policy keys that override the cluster's for this deploy only */
  policy?: PolicyOverrides;
  /** hosts of the cluster that form the first batch, a canary that waits for `promote` */
  canary?: string[];
}
export interface RollbackRequest {
  tag: string;
  /** default: the version before the current one */
  to?: string;
  policy?: PolicyOverrides;
  canary?: string[];
}
/** POST /deployments/:id/(pause|resume|promote|abort) */
export type DeploymentAction = 'pause' | 'resume' | 'promote' | 'abort';

// ---- the agent protocol ----

/** POST /agent/join (with the join token) */
export interface JoinRequest {
  name: string;
  labels: Record<string, string>;
  /** where peers reach this agent for package pieces, when not at the address the server sees it at (`--peer-url`; servers before 0032 refuse it) */
  peerUrl?: string;
}
export interface JoinResponse {
  token: string;
  /** how often the agent should report */
  heartbeatMs: number;
  /** the identity of the server's database (absent from servers before issue 12) */
  serverId?: string;
  /** the key the server signs releases with: the agent pins it (absent from servers before signing) */
  signing?: SigningKey;
}

/**
 * Who answers: the identity of the server's database, created with it, and the refusal an admin
 * adopted for this host (`noops host adopt`), if any. An agent remembers the identity and the
 * generation it last accepted, and refuses another identity or a lower generation (docs/trust.md).
 */
export interface ServerStamp {
  id: string;
  /** the refusal id (an agent's TrustReport.refusal) that `noops host adopt` accepted */
  adopted?: string;
}

/** One entry of a host's desired state, as the agent receives it. */
export interface DesiredInstance {
  tag: string;
  version: string;
  sha256: string;
  /** where to download the package: a path under the API prefix */
  url: string;
  /**
   * true: the package is small enough that the server sends it whole and its tracker hands out
   * no pieces (docs/packages-p2p.md): the agent downloads it without asking the tracker first
   * (one request per host instead of two). Absent: ask the tracker (an older server never sends it).
   */
  whole?: boolean;
  manifest: ReleaseManifest;
  deploymentId: number | null;
  /** 'deploy' or 'rollback': passed to the processes as NOOPS_DEPLOY_KIND */
  kind: 'deploy' | 'rollback';
  /** the runtimes the manifest names, to install before starting (absent from older servers) */
  runtimes?: RuntimeRef[];
  /**
   * the values of the secrets the manifest's `secretEnv` names, by secret name: only in this
   * host's desired state, never in a read API (absent: the release names none)
   */
  secrets?: Record<string, string>;
  /** the server's signature over the job of `tag`, version, sha256 and manifest (absent: unsigned) */
  signature?: ReleaseSignature;
  /**
   * Whether the server's admin allowed processes under this tag to run as root (`noops root
   * allow` on the tag or a node above it). Absent (an older server): not allowed.
   */
  allowRoot?: boolean;
  /** how the processes run here, resolved at write time (noops.yaml, else the cluster's policy); absent: `process` */
  driver?: ProcessDriverName;
  /**
   * how many copies of each process run on this host (a scheduled cluster's placement here),
   * resolved at write time; absent: 1 (a server before replicas never sends it, and an agent
   * before them ignores it). Replica n > 1 of process `web` is `web@n` (api/replicas.ts).
   */
  replicas?: number;
}

/** GET /agent/desired?after=GEN: long-polls until the generation is newer than `after` */
export interface DesiredState {
  generation: number;
  instances: DesiredInstance[];
  /** the server that answers (absent from servers before issue 12) */
  server?: ServerStamp;
  /** the key the server signs releases with; an agent refuses a state with another key than it pinned */
  signing?: SigningKey;
  /**
   * Tags whose removal from this host is intended (an undeploy, a host leaving a cluster). An
   * answer that removes more than a share of what a host runs, beyond these, is refused
   * (see MAX_STOP_SHARE in src/agent/trust/trust.ts).
   */
  stops?: string[];
  /** the load-balancer pools this host drives (docs/balancers.md; only for such a host) */
  balancers?: DesiredBalancers;
  /** this host's container network (docs/containers.md; absent: no pool set, containers get the engine's default bridge) */
  network?: HostNetwork;
  /** commands queued for this host, now handed to it (only when asked with `commands=1`) */
  commands?: AgentCommand[];
  /**
   * Packages of a rollout that reaches this host in its next batch (docs/packages-p2p.md): the
   * agent may download each into its cache before then, and installs nothing of it until its
   * `instances` name it. Absent: none (and from servers before it).
   */
  stage?: StagedPackage[];
}

/** A package staged for a host (DesiredState.stage): downloaded ahead, not installed. */
export interface StagedPackage {
  tag: string;
  version: string;
  sha256: string;
  /** where the package is downloaded from, as an instance's `url` */
  url: string;
}

/**
 * One process as the agent reports it. The server checks reports with the zod schema in
 * src/monitor/report-schema.ts; src/monitor/shapes.ts fails the build if this type, that schema and
 * the stored row (`InstanceRow`) drift apart.
 */
export interface ProcessReport {
  tag: string;
  process: string;
  version: string;
  state: string;
  pid: number | null;
  port: number | null;
  restarts: number;
  startedAt: string | null;
  error: string | null;
  /**
   * The process's health check: `starting` until its first result, then `healthy` or
   * `unhealthy`. Absent from agents that do not check: an `up` process counts as healthy.
   */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** since when it has passed every check in a row (null when not healthy) */
  healthySince?: string | null;
  /** what the last failing check said */
  healthError?: string | null;
  /** whether the agent downloaded this release's package (false: it was on disk already) */
  downloaded?: boolean;
  /** container driver: the container's id (absent or null: a host process) */
  container?: string | null;
  /** container driver: the container's own address, which naming and the load balancers register */
  address?: string | null;
  /** the last death was the engine's out-of-memory kill */
  oom?: boolean;
}

/** A desired release the agent could not bring up (the old one keeps running). */
export interface FailureReport {
  tag: string;
  version: string;
  error: string;
}

/**
 * One sample of a metric, in Open-Falcon's push format, so the monitoring of stage 2 can take
 * it as it is. The agent reports, per instance process, `common.servicerunning` (1 up, 0 not),
 * `common.servicerestarts`, `common.serviceuptime` (s), `common.servicerss` (bytes) and
 * `common.servicecpu` (% of one core), tagged with the instance's full tag and the process.
 */
export interface MetricSample {
  /** the host */
  endpoint: string;
  metric: string;
  value: number;
  /** seconds since the epoch */
  timestamp: number;
  /** seconds between samples (the agent's `--metrics-every`; a pushed point's own) */
  step: number;
  /** Falcon's: GAUGE as sent; COUNTER and DERIVE stored and judged as rates */
  counterType: 'GAUGE' | 'COUNTER' | 'DERIVE';
  /**
   * Falcon's `k=v,k=v`: for an instance's process, the tag's pairs then `process=NAME`
   * (`cop=acme,owt=web,...,cluster=prod,process=web`); for a host metric Falcon's own
   * (`mount=/,fstype=ext4`, `iface=eth0`, `device=sda`) or ''
   */
  tags: string;
}

/** Something that happened to a watch on a host (a crash, a restart, flapping, a condition, a cron run). */
export interface EventReport {
  /** grows by one per event of the agent; restarts at 1 when the agent restarts */
  seq: number;
  at: string;
  /** the instance's tag; null for a standalone watch */
  tag: string | null;
  /** the process or cron */
  name: string;
  /** crash, restart, exited, flapping, given-up, condition, adopted, started, stopped, cron, cron-failed, cron-skipped */
  kind: string;
  message: string;
}

/** A scheduled command of an instance, as the agent reports it. */
export interface CronReport {
  tag: string;
  name: string;
  schedule: string;
  running: boolean;
  nextRunAt: string | null;
  lastRun: { startedAt: string; endedAt: string; result: string; message: string } | null;
  runs: number;
  skipped: number;
}

/** POST /agent/report: the heartbeat, with the host's actual state */
export interface AgentReport {
  processes: ProcessReport[];
  failures: FailureReport[];
  /** the desired-state generation the agent has applied */
  generation: number;
  /** the host's platform and runtimes (absent from older agents) */
  runtimes?: HostRuntimeReport;
  /** per-process metrics (absent from agents before issue 3) */
  metrics?: MetricSample[];
  /** events since the last report the server acknowledged */
  events?: EventReport[];
  crons?: CronReport[];
  /** whether the agent applies the server's answers (absent from agents before issue 12) */
  trust?: TrustReport;
  /** what the host offers the scheduler: measured, or set by `noops agent --capacity` (absent from agents before issue 18) */
  capacity?: HostCapacity;
  /**
   * The report's place among the agent's own: `boot` is drawn at each start of the agent, `seq`
   * counts its reports. Two may be on their way at once (a heartbeat, a health transition sent
   * without waiting), and the server takes one older than the last it took of the same boot as a
   * heartbeat only: a newer state is never replaced by an older one. Absent from older agents.
   */
  order?: ReportOrder;
}

/** AgentReport's `order`. */
export interface ReportOrder {
  boot: string;
  seq: number;
}

/**
 * An agent's trust in the server it reports to: `accepted`, or `refused` with the reason and the
 * refusal's id, which `noops host adopt` names to make the server's answers acceptable again.
 */
export interface TrustReport {
  state: 'accepted' | 'refused';
  /** the server identity the agent remembers (null before it accepted any) */
  server: string | null;
  /** the highest desired-state generation it accepted from that server */
  generation: number;
  /** why it refuses (when refused) */
  reason?: string;
  /** the refusal's id: an adopted answer names it */
  refusal?: string;
  /** when the refusal began (ISO time) */
  since?: string;
}

// ---- commands: actions a person asks of a host's agent, through the server ----

/** What an agent can be asked to do for a person. `volumes` and `volume-rm` (its volume's name in `process`) are queued by the volumes' routes only. */
export type CommandAction = 'restart' | 'logs' | 'volumes' | 'volume-rm';

/** POST /commands */
export interface CommandRequest {
  host: string;
  action: CommandAction;
  /** the instances under this tag (any level) on that host */
  tag: string;
  /** only this process (default: every process of the instances) */
  process?: string;
  /** logs: lines of each file to print first (default 10) */
  lines?: number;
  /** logs: keep streaming what is appended until cancelled */
  follow?: boolean;
}

/** queued: waiting for the agent; running: the agent took it; then one of the four ends. */
export type CommandStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'expired';

/** GET /commands/:id?offset=N&waitMs=W: a command and its output from `offset` on. */
export interface CommandView {
  id: number;
  host: string;
  action: CommandAction;
  tag: string;
  process: string | null;
  status: CommandStatus;
  initiator: string;
  createdAt: string;
  /** output from the requested offset (logs) */
  output: string;
  /** the offset to ask for next */
  offset: number;
  /** restart: the processes after the restart, as `noops ctl status` shows them */
  result: unknown;
  error: { code: string; message: string; hint: string } | null;
}

/** GET /agent/commands (long poll): the commands queued for the calling agent. */
export interface AgentCommand {
  id: number;
  action: CommandAction;
  tag: string;
  process: string | null;
  lines: number;
  follow: boolean;
}

/** POST /agent/commands/:id: output so far, and the end. */
export interface CommandUpdate {
  output?: string;
  done?: boolean;
  result?: unknown;
  error?: { code: string; message: string; hint: string };
}

/** The server's answer to an update: stop when the person cancelled (or went away). */
export interface CommandUpdateAnswer {
  cancelled: boolean;
}

/** GET /events: an event of a watch on a host. */
export interface EventView extends EventReport {
  host: string;
}

/** GET /crons: a scheduled command on a host. */
export interface CronView extends CronReport {
  host: string;
}

/** GET /servers: one server of the database (several share one PostgreSQL; docs/servers.md) */
export interface ServerView {
  /** its id (`noops server --server-id`, or its host's name and a random part) */
  id: string;
  /** the URL it serves (`--advertise`, or the address it listens on) */
  address: string;
  /** the control loops whose live lease it holds now, e.g. `["rollout"]` */
  leads: string[];
  /** when it last renewed its leases (ISO time, the database's record) */
  lastSeen: string;
  startedAt: string;
  /** true for the server that answered */
  self: boolean;
}

/** GET /servers: every server of the database, sorted by id */
export interface ServersView {
  servers: ServerView[];
}
