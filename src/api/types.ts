/**
 * What crosses the wire: request and response bodies of the HTTP API (`/api/v1`), shared by the
 * server's routes, the typed client, the CLI, the agent and the web console. camelCase throughout.
 */
import type { ReleaseManifest } from '../release/types.js';
import type { DeploymentStatusView, PolicyOverrides, RolloutProgress } from './rollout-types.js';

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
  kind: 'deploy' | 'rollback';
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
  hosts: number;
  children: TreeNodeView[];
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
  repo: string;
  tag: string;
  ref: string;
}
export interface ClusterSetRequest {
  tag: string;
  /** the hosts; may be left out to change only the policy of an existing cluster */
  hosts?: string[];
  /** policy keys to set (cluster.conf's), merged over the cluster's */
  policy?: PolicyOverrides;
}
export interface ClusterApplyRequest {
  conf: string;
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
}
export interface JoinResponse {
  token: string;
  /** how often the agent should report */
  heartbeatMs: number;
}

/** One entry of a host's desired state, as the agent receives it. */
export interface DesiredInstance {
  tag: string;
  version: string;
  sha256: string;
  /** where to download the package: a path under the API prefix */
  url: string;
  manifest: ReleaseManifest;
  deploymentId: number | null;
  /** 'deploy' or 'rollback': passed to the processes as NOOPS_DEPLOY_KIND */
  kind: 'deploy' | 'rollback';
}

/** GET /agent/desired?after=GEN: long-polls until the generation is newer than `after` */
export interface DesiredState {
  generation: number;
  instances: DesiredInstance[];
}

/** One process as the agent reports it. */
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
}

/** A desired release the agent could not bring up (the old one keeps running). */
export interface FailureReport {
  tag: string;
  version: string;
  error: string;
}

/** POST /agent/report: the heartbeat, with the host's actual state */
export interface AgentReport {
  processes: ProcessReport[];
  failures: FailureReport[];
  /** the desired-state generation the agent has applied */
  generation: number;
}
