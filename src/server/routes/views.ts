/** Read-only views: hosts, instances, the tree, releases, clusters, history, audit. */
import type { FastifyInstance } from 'fastify';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import type { ReleaseManifest } from '../../release/index.js';
import type { DeploymentRow, DeploymentStatus, ReleaseRow } from '../../store/index.js';
import {
  annotateTree,
  buildTree,
  healthByTag,
  isCanonicalTag,
  isUnder,
  matches,
  parseSelector,
  renderTree,
  type NodeHealth,
  type Selector,
} from '../../tree/index.js';
import { z } from 'zod';
import { withQueued } from '../../rollout/index.js';
import { authorize, canSee, canSeeNode, isServerAdmin } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { parseQuery } from './parse.js';
import { signatureStatus, type ReleaseSigner } from '../../release/signing.js';
import { NEXT_HEADER, PAGE_MAX, PageQuery, pageOf, parseBefore, parsePage } from './paging.js';
import { allocatedByHost, hostScheduleView } from '../host-capacity.js';
import { listSummaries } from './deploy-reads.js';

/** The largest page of history or audit a caller can ask for: the lists' one maximum. */
const MAX_LIMIT = PAGE_MAX;
const STATUSES: DeploymentStatus[] = ['running', 'succeeded', 'failed', 'rolled_back', 'aborted'];

/**
 * A deployment by the id in a URL: the running one in memory (freshest), else the store's. One
 * outside what `who` may see is not found, as if it did not exist.
 */
export async function deploymentOf(ctx: ServerContext, raw: string, who: Principal): Promise<DeploymentRow> {
  const id = Number(raw);
  const row = Number.isInteger(id) ? (ctx.rollout.current(id) ?? (await ctx.store.getDeployment(id))) : undefined;
  if (!row || !canSee(who, row.tag)) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${raw}`);
  return row;
}

/** The server's own view of everything (health counts need every host's status). */
const ADMIN_VIEW: Principal = { id: '', kind: 'admin', name: 'server', scope: null, role: 'admin' };

/** `?view=summary`: a deployment's summary in place of the whole deployment (docs/rollouts.md#following-a-large-deployment). */
export const ViewParam = z.enum(['summary'], { error: 'view is "summary" (or absent: the whole deployment)' }).optional();

/** No query parameters. */
const NoQuery = z.object({}).strict();
/** `?tag=` only. */
const TagQuery = z.object({ tag: z.string().optional() }).strict();

export async function viewRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.get('/whoami', { config: { access: 'any' } }, async (req): Promise<T.WhoamiView> => {
    parseQuery(NoQuery, req.query, 'whoami');
    return req.principal;
  });

  api.get('/hosts', { config: { access: 'viewer' } }, async (req, reply): Promise<T.HostView[]> => {
    const q = parseQuery(z.object(PageQuery).strict(), req.query, 'hosts');
    return pageOf(await hostViews(ctx, req.principal), parsePage(q), reply);
  });

  api.get('/instances', { config: { access: 'viewer' } }, async (req, reply): Promise<T.InstanceView[]> => {
    const q = parseQuery(TagQuery.extend(PageQuery), req.query, 'instances');
    const page = parsePage(q);
    // the read model: what agents reported a moment ago is in the answer, without a query
    const rows = ctx.reports.instances().filter((r) => canSee(req.principal, r.tag));
    if (!q.tag) return pageOf(rows, page, reply);
    const node = await ctx.tags.resolveAny(q.tag);
    return pageOf(
      rows.filter((r) => isUnder(r.tag, node)),
      page,
      reply,
    );
  });

  api.get('/tree', { config: { access: 'viewer' } }, async (req): Promise<T.TreeView> => {
    const { selector } = parseQuery(z.object({ selector: z.string().optional() }).strict(), req.query, 'tree');
    const sel = selector ? parseSelector(selector) : undefined;
    const who = req.principal;
    const hostsByTag = new Map<string, string[]>();
    for (const c of await ctx.store.listClusters()) if (canSee(who, c.tag)) hostsByTag.set(c.tag, c.hosts);
    const nodes = [...(await ctx.tags.all())].filter((t) => canSeeNode(who, t));
    const roots = buildTree(nodes, hostsByTag, sel);
    return { roots: annotateTree(roots, await healthOfTree(ctx, who, sel)), text: renderTree(roots) };
  });

  api.get('/releases', { config: { access: 'viewer' } }, async (req, reply): Promise<T.ReleaseView[]> => {
    const q = parseQuery(TagQuery.extend(PageQuery), req.query, 'releases');
    const job = q.tag ? await ctx.tags.resolve(q.tag, { level: 'job', truncate: true }) : undefined;
    return pageOf(
      (await ctx.store.listReleases(job)).filter((r) => canSee(req.principal, r.job)),
      parsePage(q),
      reply,
    ).map((r) => releaseView(r, ctx.signer));
  });

  api.get('/clusters', { config: { access: 'viewer' } }, async (req, reply): Promise<T.ClusterView[]> => {
    const q = parseQuery(z.object(PageQuery).strict(), req.query, 'clusters');
    const out: T.ClusterView[] = [];
    for (const c of pageOf(
      (await ctx.store.listClusters()).filter((x) => canSee(req.principal, x.tag)),
      parsePage(q),
      reply,
    )) {
      out.push({ ...c, currentVersion: await currentVersion(ctx, c.tag) });
    }
    return out;
  });

  api.get('/history', { config: { access: 'viewer' } }, async (req, reply): Promise<T.DeploymentView[] | T.DeploymentSummary[]> => {
    const q = parseQuery(
      z
        .object({
          tag: z.string().optional(),
          limit: z.string().optional(),
          status: z.string().optional(),
          before: z.string().optional(),
          view: ViewParam,
        })
        .strict(),
      req.query,
      'history',
    );
    if (!q.tag) throw new NoopsError('NOOPS_E_INPUT', 'history needs a cluster tag: ?tag=...');
    const tag = await ctx.tags.resolve(q.tag, { level: 'cluster' });
    authorize(req.principal, tag, 'viewer');
    if (q.status !== undefined && !STATUSES.includes(q.status as DeploymentStatus)) {
      throw new NoopsError('NOOPS_E_INPUT', `status "${q.status}" is not one of ${STATUSES.join(', ')}`);
    }
    const limit = limitOf(q.limit);
    const filter = { tag, limit, status: q.status as DeploymentStatus | undefined, beforeId: parseBefore(q.before) };
    // ?view=summary: each deployment's head and counts (a few kB), not every host's part (about 3 MB at 10,000 hosts)
    const rows = q.view === 'summary' ? await listSummaries(ctx, filter) : await ctx.store.listDeployments(filter);
    if (rows.length === limit) void reply.header(NEXT_HEADER, String(rows[rows.length - 1]!.id));
    if (q.view === 'summary') return rows as T.DeploymentSummary[];
    return (rows as DeploymentRow[]).map((r) => deploymentView(ctx.rollout.current(r.id) ?? r));
  });

  api.get('/deployments/:id', { config: { access: 'viewer' } }, async (req): Promise<T.DeploymentView> => {
    parseQuery(NoQuery, req.query, 'deployment');
    return deploymentView(await deploymentOf(ctx, (req.params as { id: string }).id, req.principal));
  });

  api.get('/audit', { config: { access: 'viewer' } }, async (req, reply): Promise<T.AuditView[]> => {
    const q = parseQuery(
      z.object({ limit: z.string().optional(), action: z.string().optional(), before: z.string().optional() }).strict(),
      req.query,
      'audit',
    );
    const who = req.principal;
    const limit = limitOf(q.limit);
    const beforeId = parseBefore(q.before);
    let rows: T.AuditView[];
    if (isServerAdmin(who)) {
      rows = await ctx.store.listAudit({ limit, action: q.action, beforeId });
    } else {
      // A team sees what happened in its subtree: entries whose target is a tag it may see.
      const scanned = await ctx.store.listAudit({ limit: MAX_AUDIT_SCAN, action: q.action, beforeId });
      rows = scanned.filter((r) => isCanonicalTag(r.target) && canSee(who, r.target)).slice(0, limit);
    }
    if (rows.length === limit) void reply.header(NEXT_HEADER, String(rows[rows.length - 1]!.id));
    return rows;
  });
}

/** The newest audit entries a team's view is filtered from. */
const MAX_AUDIT_SCAN = 10_000;

/**
 * Every host `who` may see, with its status (up or down) as of now: the admin sees all; a team
 * sees the hosts assigned to its subtree and those in its clusters.
 */
export async function hostViews(ctx: ServerContext, who: Principal): Promise<T.HostView[]> {
  const now = Date.now();
  let inClusters: Set<string> | undefined;
  const clusters = await ctx.store.listClusters();
  const allocated = allocatedByHost(clusters); // what scheduled clusters ask of each host (issue 18)
  if (!isServerAdmin(who)) {
    inClusters = new Set(clusters.filter((c) => canSee(who, c.tag)).flatMap((c) => c.hosts));
  }
  const out: T.HostView[] = [];
  for (const h of await ctx.store.listHosts()) {
    if (inClusters && !inClusters.has(h.name) && !(h.scope !== null && canSee(who, h.scope))) continue;
    const last = ctx.reports.lastSeen(h.name, h.lastHeartbeat);
    const trust = ctx.reports.lastReport(h.name)?.trust;
    out.push({
      name: h.name,
      status: ctx.reports.isUp(last, now) ? 'up' : 'down',
      labels: h.labels,
      lastHeartbeat: last,
      address: h.address,
      joinedAt: h.joinedAt,
      scope: h.scope,
      pendingJoin: h.pendingJoin && { at: h.pendingJoin.at, address: h.pendingJoin.address },
      ...(trust && { trust }),
      ...hostScheduleView(h, allocated),
    });
  }
  return out;
}

/**
 * The health counts of every node `who` may see, within a selector's part of the tree when one is
 * given: the tree's pure counts (tree/health.ts) over the read model's hosts and processes.
 */
export async function healthOfTree(ctx: ServerContext, who: Principal, sel?: Selector): Promise<Map<string, NodeHealth>> {
  const keep = (tag: string): boolean => canSee(who, tag) && (sel === undefined || matches(sel, tag));
  const hosts = await hostViews(ctx, ADMIN_VIEW);
  return healthByTag({
    clusters: (await ctx.store.listClusters()).filter((c) => keep(c.tag)),
    hostUp: new Map(hosts.map((h) => [h.name, h.status === 'up'])),
    processes: ctx.reports.instances().filter((p) => keep(p.tag)),
    running: (await ctx.store.listDeploymentHeads({ status: 'running' })).map((d) => d.tag).filter(keep),
  });
}

function limitOf(raw: string | undefined): number {
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new NoopsError('NOOPS_E_INPUT', `limit must be a positive integer, not "${raw}"`);
  return Math.min(n, MAX_LIMIT);
}

/**
 * The version a cluster runs: its newest succeeded deployment's; after an undeploy, the version
 * its hosts ran while any still runs it (hosts taken out of the cluster), else none.
 */
export async function currentVersion(ctx: ServerContext, tag: string): Promise<string | null> {
  const [cur] = await ctx.store.listDeploymentHeads({ tag, status: 'succeeded', limit: 1 }); // its head: not every host's part
  if (cur?.kind !== 'undeploy') return cur?.version ?? null;
  return (await ctx.store.listDesiredHeads(tag)).length > 0 ? cur.version : null;
}

export function releaseView(r: ReleaseRow, signer: ReleaseSigner): T.ReleaseView {
  const { signature: _raw, ...rest } = r;
  return { ...rest, manifest: r.manifest as unknown as ReleaseManifest, signature: signatureStatus(signer, r) };
}

export function deploymentView(d: DeploymentRow): T.DeploymentView {
  return {
    id: d.id,
    tag: d.tag,
    version: d.version,
    kind: d.kind,
    initiator: d.initiator,
    startedAt: d.startedAt,
    endedAt: d.endedAt,
    hostCount: d.hosts.length,
    hosts: d.hosts,
    status: d.status,
    previous: d.previous,
    hostResults: d.hostResults,
    message: d.message,
    conf: d.conf,
    // the store keeps no entry for a host whose batch has not started: it is queued
    progress: typeof d.progress.phase === 'string' ? withQueued(d.progress as unknown as T.RolloutProgress) : null,
  };
}
