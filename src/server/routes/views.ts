/** Read-only views: hosts, instances, the tree, releases, clusters, history, audit. */
import type { FastifyInstance } from 'fastify';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/types.js';
import type { ReleaseManifest } from '../../release/types.js';
import type { DeploymentRow, DeploymentStatus, ReleaseRow } from '../../store/index.js';
import { buildTree, isUnder, matches, parseSelector, renderTree, type Selector } from '../../tree/index.js';
import type { ServerContext } from '../context.js';
import { annotateTree, healthByTag, type NodeHealth } from '../health.js';

/** The largest page of history or audit a caller can ask for. */
const MAX_LIMIT = 1000;
const STATUSES: DeploymentStatus[] = ['running', 'succeeded', 'failed', 'rolled_back', 'aborted'];

/** A deployment by the id in a URL: the running one in memory (freshest), else the store's. */
export async function deploymentOf(ctx: ServerContext, raw: string): Promise<DeploymentRow> {
  const id = Number(raw);
  const row = Number.isInteger(id) ? ctx.rollout.current(id) ?? (await ctx.store.getDeployment(id)) : undefined;
  if (!row) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${raw}`);
  return row;
}

export async function viewRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.get('/whoami', { config: { allow: ['admin', 'team', 'agent', 'join'] } }, async (req) => req.principal);

  api.get('/hosts', async (): Promise<T.HostView[]> => hostViews(ctx));

  api.get('/instances', async (req): Promise<T.InstanceView[]> => {
    const { tag } = req.query as { tag?: string };
    await ctx.reports.flush(); // what agents reported a moment ago is in the answer
    const rows = await ctx.store.listInstances();
    if (!tag) return rows;
    const node = await ctx.tags.resolveAny(tag);
    return rows.filter((r) => isUnder(r.tag, node));
  });

  api.get('/tree', async (req): Promise<T.TreeView> => {
    const { selector } = req.query as { selector?: string };
    const sel = selector ? parseSelector(selector) : undefined;
    const hostsByTag = new Map<string, string[]>();
    for (const c of await ctx.store.listClusters()) hostsByTag.set(c.tag, c.hosts);
    const roots = buildTree(await ctx.tags.all(), hostsByTag, sel);
    return { roots: annotateTree(roots, await healthOfTree(ctx, sel)), text: renderTree(roots) };
  });

  api.get('/releases', async (req): Promise<T.ReleaseView[]> => {
    const { tag } = req.query as { tag?: string };
    const job = tag ? await ctx.tags.resolve(tag, { level: 'job', truncate: true }) : undefined;
    return (await ctx.store.listReleases(job)).map(releaseView);
  });

  api.get('/clusters', async (): Promise<T.ClusterView[]> => {
    const out: T.ClusterView[] = [];
    for (const c of await ctx.store.listClusters()) {
      const [cur] = await ctx.store.listDeployments({ tag: c.tag, status: 'succeeded', limit: 1 });
      out.push({ ...c, currentVersion: cur?.version ?? null });
    }
    return out;
  });

  api.get('/history', async (req): Promise<T.DeploymentView[]> => {
    const q = req.query as { tag?: string; limit?: string; status?: string };
    if (!q.tag) throw new NoopsError('NOOPS_E_INPUT', 'history needs a cluster tag: ?tag=...');
    const tag = await ctx.tags.resolve(q.tag, { level: 'cluster' });
    if (q.status !== undefined && !STATUSES.includes(q.status as DeploymentStatus)) {
      throw new NoopsError('NOOPS_E_INPUT', `status "${q.status}" is not one of ${STATUSES.join(', ')}`);
    }
    const rows = await ctx.store.listDeployments({ tag, limit: limitOf(q.limit), status: q.status as DeploymentStatus | undefined });
    return rows.map((r) => deploymentView(ctx.rollout.current(r.id) ?? r));
  });

  api.get('/deployments/:id', async (req): Promise<T.DeploymentView> => deploymentView(await deploymentOf(ctx, (req.params as { id: string }).id)));

  api.get('/audit', async (req): Promise<T.AuditView[]> => {
    const q = req.query as { limit?: string; action?: string };
    return ctx.store.listAudit({ limit: limitOf(q.limit), action: q.action });
  });
}

/** Every host with its status (up or down) as of now. */
export async function hostViews(ctx: ServerContext): Promise<T.HostView[]> {
  const now = Date.now();
  return (await ctx.store.listHosts()).map((h) => {
    const last = ctx.reports.lastSeen(h.name, h.lastHeartbeat);
    const trust = ctx.reports.lastReport(h.name)?.trust;
    return {
      name: h.name, status: ctx.reports.isUp(last, now) ? 'up' : 'down', labels: h.labels, lastHeartbeat: last, address: h.address, joinedAt: h.joinedAt,
      ...(trust && { trust }),
    };
  });
}

/** The health counts of every node, within a selector's part of the tree when one is given. */
export async function healthOfTree(ctx: ServerContext, sel?: Selector): Promise<Map<string, NodeHealth>> {
  const keep = (tag: string): boolean => sel === undefined || matches(sel, tag);
  const hosts = await hostViews(ctx);
  return healthByTag({
    clusters: (await ctx.store.listClusters()).filter((c) => keep(c.tag)),
    hostUp: new Map(hosts.map((h) => [h.name, h.status === 'up'])),
    processes: (await ctx.store.listInstances()).filter((p) => keep(p.tag)),
    running: (await ctx.store.listDeployments({ status: 'running' })).map((d) => d.tag).filter(keep),
  });
}

function limitOf(raw: string | undefined): number {
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new NoopsError('NOOPS_E_INPUT', `limit must be a positive integer, not "${raw}"`);
  return Math.min(n, MAX_LIMIT);
}

export function releaseView(r: ReleaseRow): T.ReleaseView {
  return { ...r, manifest: r.manifest as unknown as ReleaseManifest };
}

export function deploymentView(d: DeploymentRow): T.DeploymentView {
  return {
    id: d.id, tag: d.tag, version: d.version, kind: d.kind, initiator: d.initiator,
    startedAt: d.startedAt, endedAt: d.endedAt, hostCount: d.hosts.length, hosts: d.hosts,
    status: d.status, previous: d.previous, hostResults: d.hostResults, message: d.message, conf: d.conf,
    progress: typeof d.progress.phase === 'string' ? (d.progress as unknown as T.RolloutProgress) : null,
  };
}
