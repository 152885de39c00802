/**
 * The rollout's reader and writer in memory, for tests (as Nomad's scheduler has its harness):
 * plain maps seeded by the test, every read and write recorded in `calls`, and a write that can
 * be made to fail once. Deployments go through JSON and `readProgress` as they do in a real
 * store, so a progress that could not be read back fails here too.
 */
import type {
  AuditRow,
  ClusterRow,
  DeploymentKind,
  DeploymentRow,
  DesiredHead,
  DesiredRow,
  Fence,
  GrantRow,
  HostRow,
  ReleaseRow,
  RunningDeploymentRow,
  RuntimeRow,
} from '../store/index.js';
import type { Deployment, DeploymentUpdate, RolloutPorts, RolloutReader, RolloutWriter, StoredDeployment } from './ports.js';
import { NoopsError } from '../errors/index.js';
import { locked } from './deploy-start.js';
import { stored } from './store-ports.js';

/** The name of a reader's or a writer's method. */
export type PortCall = keyof RolloutReader | keyof RolloutWriter;

/** Both ports over plain maps. `ports()` answers them as the controller takes them. */
export class MemoryRolloutStore implements RolloutReader, RolloutWriter {
  readonly clusters = new Map<string, ClusterRow>();
  readonly releases: ReleaseRow[] = [];
  readonly hostRows = new Map<string, HostRow>();
  readonly runtimeRows: RuntimeRow[] = [];
  readonly grants: GrantRow[] = [];
  /** deployments by id, as JSON (the store keeps text) */
  private readonly deployments = new Map<number, string>();
  /** per deployment, its hosts' last changes (the store's deployment_hosts) */
  private readonly hostChanges = new Map<number, Map<string, { progress: unknown; result: string }>>();
  /** desired entries by host, then tag */
  private readonly desiredRows = new Map<string, Map<string, DesiredRow>>();
  readonly audits: Omit<AuditRow, 'id'>[] = [];
  /** every call, in order */
  readonly calls: PortCall[] = [];
  private failing: { method: PortCall; error: Error } | undefined;
  /**
   * The rollout loop's lease as the database would hold it: when set, a write under a fence
   * that differs from it is refused (NOOPS_E_FENCED), as `Store.fenced` refuses it.
   */
  lease: Fence | undefined;

  ports(): RolloutPorts {
    return { read: this, write: this };
  }

  /** The next call of `method` throws `error` (then it works again). */
  failOnce(method: PortCall, error: Error): void {
    this.failing = { method, error };
  }

  /** A deployment as stored (with its progress as read back). */
  deployment(id: number): StoredDeployment | undefined {
    const json = this.deployments.get(id);
    return json === undefined ? undefined : stored(JSON.parse(json) as DeploymentRow);
  }

  /** Every deployment, newest first. */
  allDeployments(): StoredDeployment[] {
    return [...this.deployments.keys()].sort((a, b) => b - a).map((id) => this.deployment(id)!);
  }

  /** A host's desired entries, by tag. */
  desiredOf(host: string): DesiredRow[] {
    return [...(this.desiredRows.get(host)?.values() ?? [])].sort((a, b) => (a.tag < b.tag ? -1 : 1));
  }

  private fenced(fence: Fence | undefined): void {
    if (!fence || !this.lease) return;
    if (fence.holder === this.lease.holder && fence.epoch === this.lease.epoch) return;
    throw new NoopsError('NOOPS_E_FENCED', `server ${fence.holder} no longer leads the ${fence.loop} loop (epoch ${fence.epoch})`);
  }

  private call(method: PortCall): void {
    this.calls.push(method);
    if (this.failing?.method !== method) return;
    const { error } = this.failing;
    this.failing = undefined;
    throw error;
  }

  // ---- RolloutReader

  async runningDeployments(): Promise<StoredDeployment[]> {
    this.call('runningDeployments');
    return this.allDeployments().filter((d) => d.status === 'running');
  }

  async storedDeployment(id: number): Promise<StoredDeployment | undefined> {
    this.call('storedDeployment');
    return this.deployment(id);
  }

  async runningDeploymentIds(): Promise<{ id: number; kind: DeploymentKind; tag: string }[]> {
    this.call('runningDeploymentIds');
    return this.allDeployments()
      .filter((d) => d.status === 'running')
      .map((d) => ({ id: d.id, kind: d.kind, tag: d.tag }))
      .reverse();
  }

  async runningDeploymentOn(tag: string): Promise<RunningDeploymentRow | undefined> {
    this.call('runningDeploymentOn');
    const d = this.allDeployments().find((x) => x.tag === tag && x.status === 'running');
    return d && { id: d.id, tag: d.tag, version: d.version, kind: d.kind, initiator: d.initiator, startedAt: d.startedAt };
  }

  async deploymentStatus(id: number): Promise<Pick<DeploymentRow, 'status' | 'kind'> | undefined> {
    this.call('deploymentStatus');
    const d = this.deployment(id);
    return d && { status: d.status, kind: d.kind };
  }

  async succeededDeployments(tag: string, limit: number): Promise<Pick<DeploymentRow, 'version' | 'kind'>[]> {
    this.call('succeededDeployments');
    return this.allDeployments()
      .filter((d) => d.tag === tag && d.status === 'succeeded')
      .slice(0, limit)
      .map((d) => ({ version: d.version, kind: d.kind }));
  }

  async cluster(tag: string): Promise<ClusterRow | undefined> {
    this.call('cluster');
    return structuredClone(this.clusters.get(tag));
  }

  async release(job: string, version: string): Promise<ReleaseRow | undefined> {
    this.call('release');
    return structuredClone(this.releases.find((r) => r.job === job && r.version === version));
  }

  async newestReleases(job: string, limit: number): Promise<string[]> {
    this.call('newestReleases');
    return this.releases
      .filter((r) => r.job === job)
      .reverse()
      .slice(0, limit)
      .map((r) => r.version);
  }

  async hosts(names: readonly string[]): Promise<HostRow[]> {
    this.call('hosts');
    return [...new Set(names)].sort().flatMap((n) => (this.hostRows.has(n) ? [structuredClone(this.hostRows.get(n)!)] : []));
  }

  async joined(names: readonly string[]): Promise<string[]> {
    this.call('joined');
    return [...new Set(names)].sort().filter((n) => this.hostRows.has(n));
  }

  async runtimes(name: string): Promise<RuntimeRow[]> {
    this.call('runtimes');
    return structuredClone(this.runtimeRows.filter((r) => r.name === name));
  }

  async rootScopes(): Promise<string[]> {
    this.call('rootScopes');
    return this.grants.filter((g) => g.grant === 'root').map((g) => g.scope);
  }

  async desired(tag: string): Promise<DesiredHead[]> {
    this.call('desired');
    // as the store's listDesiredHeads: no manifest, no time written
    const out: DesiredHead[] = [];
    for (const byTag of this.desiredRows.values()) {
      if (!byTag.has(tag)) continue;
      const { manifest: _manifest, updatedAt: _updatedAt, ...head } = structuredClone(byTag.get(tag)!);
      out.push(head);
    }
    return out.sort((a, b) => (a.host < b.host ? -1 : 1));
  }

  // ---- RolloutWriter

  async createDeployment(row: Omit<Deployment, 'id'>, audit: (id: number) => Omit<AuditRow, 'id'>): Promise<number> {
    this.call('createDeployment');
    // the store's unique index of running deployments per tag (0011_deploy_lock), as the store edge words it
    if (row.status === 'running') {
      const holder = this.allDeployments().find((d) => d.tag === row.tag && d.status === 'running');
      if (holder) throw locked(row.tag, holder);
    }
    const id = Math.max(0, ...this.deployments.keys()) + 1;
    const entry = audit(id); // built before anything is written: both or neither
    this.deployments.set(id, JSON.stringify({ id, ...row }));
    this.audits.push(structuredClone(entry));
    return id;
  }

  async updateDeployment(id: number, patch: DeploymentUpdate, fence?: Fence): Promise<void> {
    this.call('updateDeployment');
    this.fenced(fence);
    const json = this.deployments.get(id);
    if (json === undefined) return;
    // progressJson: the progress as the real store writes it (its text), read back as the store would
    const { hostChanges, progressJson, ...columns } = patch;
    if (progressJson !== undefined) columns.progress = JSON.parse(progressJson) as typeof columns.progress;
    const row = JSON.parse(json) as Record<string, unknown> & {
      progress: { hosts?: Record<string, unknown> };
      hostResults: Record<string, string>;
    };
    // as the store: undefined is absent; a host's change is kept over what the columns say of it
    for (const [k, v] of Object.entries(columns)) if (v !== undefined) row[k] = v;
    const changed = this.hostChanges.get(id) ?? new Map<string, { progress: unknown; result: string }>();
    for (const c of hostChanges ?? []) changed.set(c.host, c);
    this.hostChanges.set(id, changed);
    const hosts: Record<string, unknown> = { ...row.progress.hosts };
    for (const [h, c] of changed) {
      hosts[h] = c.progress;
      row.hostResults[h] = c.result;
    }
    row.progress = { ...row.progress, hosts };
    this.deployments.set(id, JSON.stringify(row));
  }

  async setDesiredMany(tag: string, changes: { host: string; row: DesiredRow | null }[], fence?: Fence): Promise<void> {
    this.call('setDesiredMany');
    this.fenced(fence);
    for (const { host, row } of changes) {
      let byTag = this.desiredRows.get(host);
      if (!byTag) this.desiredRows.set(host, (byTag = new Map()));
      if (row) byTag.set(tag, structuredClone(row));
      else byTag.delete(tag);
    }
  }

  async audit(row: Omit<AuditRow, 'id'>, fence?: Fence): Promise<void> {
    this.call('audit');
    this.fenced(fence);
    this.audits.push(structuredClone(row));
  }
}
