/** Clusters: set a cluster's hosts or count (and policy), or apply a cluster.conf. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type * as T from '../../api/index.js';
import { parseScheduleSpec } from '../../api/index.js';
import { CHANNELS } from '../../bus/index.js';
import { NoopsError } from '../../errors/index.js';
import { describeStops, parsePolicy, stopPlan } from '../../rollout/index.js';
import { parseClusterConf } from '../../rollout/cluster-conf.js';
import { formatTag, levelOf, parseTag, withPair } from '../../tree/index.js';
import { authorize, canSee, isServerAdmin } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import type { ClusterRow } from '../../store/index.js';
import { HostName, parseBody, TagInput } from './parse.js';
import { currentVersion } from './views.js';

/** What a write of a cluster sets, worked out from the cluster as it is. */
interface ClusterWrite {
  hosts: string[];
  policy: Record<string, unknown>;
  /** the cluster.conf it was applied from, if any */
  conf: string | null;
  /** a scheduled cluster's spec; null: hosts named by hand (any spec cleared) */
  schedule: T.ScheduleSpec | null;
}

function noHostsYet(tag: string): NoopsError {
  return new NoopsError(
    'NOOPS_E_CLUSTER_UNKNOWN',
    `${tag} has no hosts yet: give them (--hosts h1,h2) or a count (--count N) before its policy alone`,
  );
}

/** A scheduled cluster's keys as sent (checked by `parseScheduleSpec`, which names what is wrong). */
const ScheduleBody = z
  .object({
    count: z.unknown(),
    cpu: z.unknown().optional(),
    memory: z.unknown().optional(),
    constraints: z.unknown().optional(),
    distinctHosts: z.unknown().optional(),
    spread: z.unknown().optional(),
    binpack: z.unknown().optional(),
  })
  .strict();

const SetBody = z
  .object({
    tag: TagInput,
    hosts: z.array(HostName).min(1, 'give at least one host (--hosts h1,h2)').optional(),
    policy: z.record(z.string(), z.unknown()).optional(),
    yes: z.boolean().optional(),
    schedule: ScheduleBody.optional(),
  })
  .strict();
const ApplyBody = z.object({ conf: z.string().min(1, 'the cluster.conf is empty').max(1_000_000), yes: z.boolean().optional() }).strict();

/**
 * The spec `PUT /clusters` was given, checked; undefined when none. A count and hosts together
 * are refused: a cluster has either.
 */
function scheduleOf(body: z.infer<typeof SetBody>): T.ScheduleSpec | undefined {
  if (body.schedule === undefined) return undefined;
  if (body.hosts !== undefined) {
    throw new NoopsError('NOOPS_E_INPUT', 'cluster set: give hosts (--hosts) or a count (--count), not both', {
      hint: 'a cluster has either hosts named by hand or a count the scheduler places: --hosts h1,h2 makes it hand-placed, --count N scheduled (its hosts are kept as its first placements)',
    });
  }
  return parseScheduleSpec(body.schedule, 'cluster set');
}

export async function clusterRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  /**
   * Writes a cluster: `next` works out its hosts, policy and spec from the cluster as it is, read
   * in the same transaction with its row locked (as `POST .../scale` does): a `cluster set` or a
   * scale that runs at the same time is never written over with the cluster as it was before it.
   */
  const put = async (
    actor: string,
    tag: string,
    action: string,
    next: (old: ClusterRow | undefined) => ClusterWrite,
  ): Promise<T.ClusterView> => {
    const at = new Date().toISOString();
    await ctx.tags.ensure(tag);
    const w = await ctx.store.tx(async (s) => {
      await s.schedule.lockClusterSchedule(tag); // a new cluster has no row yet: nothing to lock
      const w = next(await s.getCluster(tag));
      const hosts = [...new Set(w.hosts)];
      await s.putCluster({ tag, hosts, policy: w.policy, conf: w.conf, updatedAt: at });
      await s.schedule.setClusterSchedule(tag, w.schedule);
      await s.audit({ at, actor, action, target: tag, detail: { hosts, policy: w.policy, ...(w.schedule && { schedule: w.schedule }) } });
      return { ...w, hosts };
    });
    await ctx.bus.publish(CHANNELS.tree, 'clusters'); // which hosts are beneath which nodes changed (monitor/strategies)
    return {
      tag,
      hosts: w.hosts,
      policy: w.policy,
      conf: w.conf,
      updatedAt: at,
      currentVersion: await currentVersion(ctx, tag),
      ...(w.schedule && { schedule: w.schedule }),
    };
  };

  /** What giving `tag` these hosts would stop: the instances of hosts that leave it. */
  const stopsOf = async (tag: string, hosts: readonly string[]): Promise<T.StopPlanItem[]> =>
    stopPlan(tag, hosts, await ctx.store.listDesiredHeads(tag));

  /** Without `yes`, a change that stops anything is refused with what it would stop, and nothing changes. */
  const confirm = (plans: T.StopPlanItem[][], yes: boolean | undefined, what: string): void => {
    const all = plans.flat();
    if (all.length === 0 || yes) return;
    throw new NoopsError(
      'NOOPS_E_UNDEPLOY_CONFIRM',
      `${what} would stop ${all.length} instance(s) on hosts leaving the cluster: ${describeStops(all)}; nothing was changed`,
    );
  };

  /**
   * Stops what hosts leaving a cluster run there: an undeploy of those hosts, started before the
   * cluster changes (it takes the cluster's lock: a running deploy refuses it, and the cluster
   * stays as it was). Answers what it stops, for the cluster's view.
   */
  const stopLeaving = async (actor: string, tag: string, plan: T.StopPlanItem[]): Promise<T.ClusterView['stopping']> => {
    if (plan.length === 0) return undefined;
    const row = await ctx.rollout.startUndeploy({ tag, initiator: actor, hosts: plan.map((s) => s.host) });
    return { deployment: row.id, stops: plan };
  };

  /**
   * A team may add to its clusters only hosts assigned to its own subtree (`noops host assign`);
   * hosts a cluster has already (put there by the admin) may stay.
   */
  const checkHosts = async (who: Principal, tag: string, hosts: readonly string[]): Promise<void> => {
    if (isServerAdmin(who)) return;
    const had = new Set((await ctx.store.getCluster(tag))?.hosts ?? []);
    for (const name of hosts) {
      if (had.has(name)) continue;
      const host = await ctx.store.getHost(name);
      if (host?.scope != null && canSee(who, host.scope)) continue;
      throw new NoopsError(
        'NOOPS_E_FORBIDDEN',
        `host ${name} is not in ${who.scope}'s part of the tree${host?.scope ? ` (it belongs to ${host.scope})` : host ? ' (it is not assigned to any node)' : ''}`,
        {
          hint: `ask the admin to assign it: \`noops host assign ${name} --scope ${who.scope}\``,
        },
      );
    }
  };

  api.put('/clusters', { config: { access: 'deployer' } }, async (req): Promise<T.ClusterView> => {
    const body = parseBody(SetBody, req.body, 'cluster set');
    const tag = await ctx.tags.resolve(body.tag, { level: 'cluster' });
    authorize(req.principal, tag, 'deployer');
    const policy = parsePolicy(body.policy, 'cluster set');
    const given = scheduleOf(body);
    // what the cluster has, for the checks and the stop plan; written from the cluster as read again under its lock (put)
    const hostsOf = (old: ClusterRow | undefined): string[] | undefined => body.hosts ?? old?.hosts ?? (given ? [] : undefined);
    const old = await ctx.store.getCluster(tag);
    const hosts = hostsOf(old);
    if (!hosts) throw noHostsYet(tag);
    await checkHosts(req.principal, tag, hosts);
    const plan = await stopsOf(tag, hosts);
    confirm([plan], body.yes, `cluster set -t ${tag}`);
    const stopping = await stopLeaving(req.principal.name, tag, plan);
    const view = await put(req.principal.name, tag, 'cluster.set', (now) => ({
      // a count keeps the hosts the cluster has (its first placements); hosts clear the spec; a policy alone keeps either
      hosts: hostsOf(now) ?? hosts,
      policy: { ...now?.policy, ...policy },
      conf: now?.conf ?? null,
      schedule: body.hosts ? null : (given ?? now?.schedule ?? null),
    }));
    return stopping ? { ...view, stopping } : view;
  });

  api.post('/clusters/apply', { config: { access: 'deployer' } }, async (req): Promise<T.ClusterView[]> => {
    const body = parseBody(ApplyBody, req.body, 'cluster apply');
    const jobs = parseClusterConf(body.conf);
    // Resolve and authorize every section before changing anything: all or nothing.
    const plan: { tag: string; job: (typeof jobs)[number]; hosts: string[]; stops: T.StopPlanItem[] }[] = [];
    for (const job of jobs) {
      const given = parseTag(job.tag);
      const clusterTag =
        levelOf(given) === 'cluster'
          ? await ctx.tags.resolve(job.tag, { level: 'cluster' })
          : formatTag(withPair(parseTag(await ctx.tags.resolve(job.tag, { level: 'job' })), 'cluster', job.clusterName));
      authorize(req.principal, clusterTag, 'deployer');
      // a count: the hosts it has stay (its first placements); hosts: a hand-placed cluster
      const hosts = job.schedule ? ((await ctx.store.getCluster(clusterTag))?.hosts ?? []) : job.hosts;
      await checkHosts(req.principal, clusterTag, hosts);
      plan.push({ tag: clusterTag, job, hosts, stops: await stopsOf(clusterTag, hosts) });
    }
    confirm(
      plan.map((p) => p.stops),
      body.yes,
      'cluster apply',
    );
    const out: T.ClusterView[] = [];
    for (const { tag, job, hosts, stops } of plan) {
      const policy: Record<string, unknown> = { ...job.policy };
      if (job.version) policy.version = job.version;
      if (job.pkgUrl) policy.pkg_url = job.pkgUrl;
      if (job.env) policy.env = job.env;
      const stopping = await stopLeaving(req.principal.name, tag, stops);
      const view = await put(req.principal.name, tag, 'cluster.apply', (now) => ({
        // a count: the hosts it has now stay (its first placements)
        hosts: job.schedule ? (now?.hosts ?? hosts) : hosts,
        policy,
        conf: body.conf,
        schedule: job.schedule ?? null,
      }));
      out.push(stopping ? { ...view, stopping } : view);
    }
    return out;
  });
}
