/**
 * Everything the rollout controller does to the world's stored state, behind two narrow
 * interfaces (as Nomad's scheduler has `State` and `Planner`): what it reads, and what it
 * writes. The server builds both over its `Store` (`rolloutPorts`, store-ports.ts); tests use
 * `MemoryRolloutStore` (testing.ts). `RolloutDeps` is the whole of what the controller is given.
 */
import type {
  AuditRow,
  ClusterRow,
  DeploymentKind,
  DeploymentRow,
  Fence,
  DesiredHead,
  DesiredRow,
  HostRow,
  ReleaseRow,
  RunningDeploymentRow,
  RuntimeRow,
} from '../store/index.js';
import type { AgentReport } from '../api/index.js';
import type { Sandbox } from '../build/index.js';
import type { RolloutHooks } from './hooks.js';
import type { HostProgress, RolloutProgress } from './types.js';

/**
 * A deployment as the rollout holds it: the store's row with its progress typed. It is a
 * `DeploymentRow` too (what the routes show).
 */
export type Deployment = Omit<DeploymentRow, 'progress'> & { progress: RolloutProgress };

/** One host's part of a deployment that changed: written alone, not with every other host's. */
export interface HostChange {
  host: string;
  progress: HostProgress;
  /** its `hostResults` entry */
  result: string;
}

/**
 * A change of a running deployment: the fields given (its `progress` may leave out the hosts
 * that did not change: `hosts: {}`), and the hosts whose part changed. Read back, each host's
 * last change stands over what `progress` says of it.
 */
export type DeploymentUpdate = Partial<Omit<Deployment, 'id'>> & {
  hostChanges?: readonly HostChange[];
  /** `progress` serialized (`headJson`): the store writes it as it is */
  progressJson?: string;
};

/** A deployment read back from the store. */
export type StoredDeployment = Omit<DeploymentRow, 'progress'> & {
  /** null: recorded before batched rollouts, or unreadable (see `unreadable`) */
  progress: RolloutProgress | null;
  /** why its stored progress could not be read, when it could not */
  unreadable?: string;
};

/** What the controller reads. */
export interface RolloutReader {
  /** the deployments running now, newest first (to resume them after a restart) */
  runningDeployments(): Promise<StoredDeployment[]>;
  /** one deployment, with its progress read back */
  storedDeployment(id: number): Promise<StoredDeployment | undefined>;
  /** the running deployments' ids, kinds and tags (cheap: what a leader checks it holds every few seconds) */
  runningDeploymentIds(): Promise<{ id: number; kind: DeploymentKind; tag: string }[]>;
  /** the deployment running on a cluster, if any: the holder of its lock */
  runningDeploymentOn(tag: string): Promise<RunningDeploymentRow | undefined>;
  /** a deployment's status and kind (those that run, the controller holds itself) */
  deploymentStatus(id: number): Promise<Pick<DeploymentRow, 'status' | 'kind'> | undefined>;
  /** a cluster's succeeded deployments, newest first (what a rollback goes back to) */
  succeededDeployments(tag: string, limit: number): Promise<Pick<DeploymentRow, 'version' | 'kind'>[]>;
  cluster(tag: string): Promise<ClusterRow | undefined>;
  release(job: string, version: string): Promise<ReleaseRow | undefined>;
  /** the versions of a job's newest releases, newest first (for an error that names them) */
  newestReleases(job: string, limit: number): Promise<string[]>;
  /** the hosts of these names that joined */
  hosts(names: readonly string[]): Promise<HostRow[]>;
  /** the names of these hosts that joined, their rows not read (a deploy's start checks only that every host joined) */
  joined(names: readonly string[]): Promise<string[]>;
  /** every version of a runtime the server has */
  runtimes(name: string): Promise<RuntimeRow[]>;
  /** the scopes root is allowed on (`noops root allow`) */
  rootScopes(): Promise<string[]>;
  /** a cluster's desired entries (every host) */
  desired(tag: string): Promise<DesiredHead[]>;
}

/** What the controller writes. */
export interface RolloutWriter {
  /**
   * Writes a new deployment and its audit entry together, or neither; answers its id. The
   * cluster's lock is the store's: a running deployment is refused while another of its tag runs.
   *
   * @throws NoopsError NOOPS_E_DEPLOY_LOCKED naming the running one (as `locked` words it), when `row` runs and another deployment of its tag already does
   */
  createDeployment(row: Omit<Deployment, 'id'>, audit: (id: number) => Omit<AuditRow, 'id'>): Promise<number>;
  /**
   * The writes of a deployment's stepping. Under a `fence` (the rollout loop's lease, when
   * servers elect who steps) a write is refused once another server leads the loop.
   *
   * @throws NoopsError NOOPS_E_FENCED when `fence` no longer holds
   */
  updateDeployment(id: number, patch: DeploymentUpdate, fence?: Fence): Promise<void>;
  /** sets (row) or clears (null) one cluster's entry on many hosts, in one transaction (fenced as above) */
  setDesiredMany(tag: string, changes: { host: string; row: DesiredRow | null }[], fence?: Fence): Promise<void>;
  audit(row: Omit<AuditRow, 'id'>, fence?: Fence): Promise<void>;
}

/** The two together, as the controller takes them. */
export interface RolloutPorts {
  read: RolloutReader;
  write: RolloutWriter;
}

/** What the controller needs from the server around it. */
export interface RolloutDeps {
  /** what it reads of the stored state (the server's: `rolloutPorts(store)`; tests: `MemoryRolloutStore`) */
  read: RolloutReader;
  /** what it writes: deployments, desired state, audit entries */
  write: RolloutWriter;
  /** the last report of a host, if it reported since the server started */
  lastReport(host: string): AgentReport | undefined;
  /** wake the host's agent: its desired state changed */
  notify(host: string): void;
  /**
   * The hosts of a deployment's next batch, as its current batch starts: their agents may fetch
   * the package ahead (docs/packages-p2p.md). Best effort: nothing waits on it, and a failure is
   * only the download at the batch's start as before. Absent: nothing is staged.
   */
  stage?(hosts: string[], pkg: { tag: string; version: string; sha256: string }): Promise<void>;
  /** the deployment of package `sha256` to cluster `tag` ended or goes back: it is staged for none of its hosts any more */
  unstage?(tag: string, sha256: string): void;
  /** true when the package is in the artifact store */
  hasArtifact(sha256: string): Promise<boolean>;
  /** the file of a package in the artifact store (the deploy tests unpack it) */
  artifactPath(sha256: string): string;
  /** where the deploy tests' temp folders go */
  workDir: string;
  /** where deploy tests run: the server's build sandbox (default: none, for tests) */
  sandbox?: Sandbox;
  hooks?: RolloutHooks;
  /** see DEFAULT_RESUME_GRACE_MS (controller.ts) */
  resumeGraceMs?: number;
  /**
   * Servers elect which of them steps deployments (src/lead/, wired by the server): `start()`
   * steps nothing until `lead(fence)`, and `follow()` stops it. Without it, `start()` leads at
   * once, unfenced (one process alone: tests).
   */
  elected?: boolean;
}
