/**
 * One node of the service tree and everything under it, in one answer: what the console's node
 * and cluster pages show (hosts, instances, jobs, and for a cluster its current release and its
 * running deployment).
 */
import type { FastifyInstance } from 'fastify';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import {
  ancestorsAndSelf,
  annotateTree,
  buildTree,
  formatTag,
  isUnder,
  levelOf,
  parseTag,
  resolveTag,
  truncateTo,
} from '../../tree/index.js';
import { z } from 'zod';
import { canSee, canSeeNode } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseQuery } from './parse.js';
import { currentVersion, deploymentView, healthOfTree, hostViews, releaseView } from './views.js';

export async function nodeRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.get('/nodes/:tag', { config: { access: 'viewer' } }, async (req): Promise<T.NodeView> => {
    parseQuery(z.object({}).strict(), req.query, 'node');
    const who = req.principal;
    const input = (req.params as { tag: string }).tag;
    const all = new Set([...(await ctx.tags.all())].filter((t) => canSeeNode(who, t)));
    const tag = resolveTag(input, all).tag;
    if (!all.has(tag))
      throw new NoopsError('NOOPS_E_TAG_UNKNOWN', `no node ${tag} in the service tree`, {
        hint: 'pick a node in the tree, or create it by building or setting a cluster with its full tag',
      });
    const parsed = parseTag(tag);
    // Under a node above its scope, a team sees only the way down to its own part.
    const under = (t: string): boolean => isUnder(t, tag) && canSee(who, t);

    const clusters = (await ctx.store.listClusters()).filter((c) => under(c.tag));
    const hostsByTag = new Map(clusters.map((c) => [c.tag, c.hosts]));
    const subtree = buildTree(
      [...all].filter((t) => isUnder(t, tag)),
      hostsByTag,
    );
    const node = findNode(annotateTree(subtree, await healthOfTree(ctx, who)), tag);

    const memberOf = new Map<string, string[]>();
    for (const c of clusters) for (const h of c.hosts) memberOf.set(h, [...(memberOf.get(h) ?? []), c.tag]);
    const hosts = (await hostViews(ctx, who)).filter((h) => memberOf.has(h.name)).map((h) => ({ ...h, clusters: memberOf.get(h.name)! }));

    const running = (await ctx.store.listDeploymentHeads({ status: 'running' })).filter((d) => under(d.tag));
    const currentOf = (clusterTag: string): Promise<string | null> => currentVersion(ctx, clusterTag);
    /** a cluster's page shows its running deployment whole (the others are listed by id) */
    const runningView = async (id: number): Promise<T.DeploymentView | null> => {
      const d = ctx.rollout.current(id) ?? (await ctx.store.getDeployment(id));
      return d ? deploymentView(d) : null;
    };

    // A cluster's page lists its own job; any other node lists the jobs beneath it.
    const jobTags = [...all].filter((t) => levelOf(parseTag(t)) === 'job' && canSee(who, t) && (under(t) || isUnder(tag, t))).sort();
    const jobs: T.JobSummary[] = [];
    for (const job of jobTags) {
      const releases = await ctx.store.listReleases(job);
      const summaries: T.ClusterSummary[] = [];
      for (const c of clusters.filter((x) => isUnder(x.tag, job))) {
        summaries.push({
          tag: c.tag,
          name: nameOf(c.tag),
          hosts: c.hosts.length,
          currentVersion: await currentOf(c.tag),
          running: running.find((d) => d.tag === c.tag)?.id ?? null,
        });
      }
      jobs.push({
        tag: job,
        name: nameOf(job),
        releases: releases.length,
        latestRelease: releases[0] ? { version: releases[0].version, createdAt: releases[0].createdAt } : null,
        clusters: summaries,
      });
    }

    let cluster: T.ClusterDetail | null = null;
    if (levelOf(parsed) === 'cluster') {
      const row = clusters.find((c) => c.tag === tag);
      const currentVersion = await currentOf(tag);
      const release = currentVersion ? await ctx.store.getRelease(formatTag(truncateTo(parsed, 'job')!), currentVersion) : undefined;
      const live = running.find((d) => d.tag === tag);
      cluster = {
        tag,
        hosts: row?.hosts ?? [],
        policy: row?.policy ?? {},
        conf: row?.conf ?? null,
        updatedAt: row?.updatedAt ?? '',
        currentVersion,
        current: release ? releaseView(release, ctx.signer) : null,
        running: live ? await runningView(live.id) : null,
      };
    }

    return {
      node,
      path: ancestorsAndSelf(parsed).map((t) => ({ tag: formatTag(t), level: levelOf(t), name: t.pairs[t.pairs.length - 1]!.value })),
      hosts,
      instances: ctx.reports.instances().filter((i) => under(i.tag)),
      jobs,
      cluster,
    };
  });
}

function findNode(nodes: T.TreeNodeView[], tag: string): T.TreeNodeView {
  for (const n of nodes) {
    if (n.tag === tag) return n;
    if (isUnder(tag, n.tag)) return findNode(n.children, tag);
  }
  throw new NoopsError('NOOPS_E_INTERNAL', `node ${tag} is missing from its own subtree`);
}

function nameOf(tag: string): string {
  const pairs = parseTag(tag).pairs;
  return pairs[pairs.length - 1]!.value;
}
