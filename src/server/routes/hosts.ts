/**
 * Hosts as the admin manages them: assign one to a node of the tree (a team may then put it in
 * its clusters), approve a join under a live host's name, remove a host; and drain one for the
 * scheduler (the admin, or a deployer of the host's node).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CHANNELS } from '../../bus/index.js';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import type { HostRow } from '../../store/index.js';
import { authorize, isServerAdmin } from '../auth.js';
import type { ServerContext } from '../context.js';
import { AGENT_TOKENS_CHANGED, revocationMark, type PrincipalCache } from '../principals.js';
import { HostName, parseBody, TagInput } from './parse.js';
import { hostViews } from './views.js';
import { capacitiesOf } from '../host-capacity.js';

/** How long an approval lets a join under a live host's name through: time to restart that agent. */
export const JOIN_APPROVAL_MS = 10 * 60_000;

const AssignBody = z.object({ scope: TagInput.nullable() }).strict();

export async function hostRoutes(api: FastifyInstance, ctx: ServerContext, principals: PrincipalCache): Promise<void> {
  const hostOf = async (params: unknown): Promise<HostRow> => {
    const name = HostName.safeParse((params as { name: string }).name);
    const host = name.success ? await ctx.store.getHost(name.data) : undefined;
    if (!host) throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `no host named ${(params as { name: string }).name}`);
    return host;
  };
  const viewOf = async (name: string, req: { principal: T.WhoamiView }): Promise<T.HostView> =>
    (await hostViews(ctx, req.principal)).find((h) => h.name === name)!;

  /** PUT /hosts/:name/scope {scope}: the node the host belongs to (null: none). */
  api.put('/hosts/:name/scope', { config: { access: 'server-admin' } }, async (req): Promise<T.HostView> => {
    const host = await hostOf(req.params);
    const body = parseBody(AssignBody, req.body, 'host assign');
    const scope = body.scope === null ? null : await ctx.tags.resolveAny(body.scope);
    if (scope !== null) await ctx.tags.ensure(scope);
    const at = new Date().toISOString();
    await ctx.store.tx(async (s) => {
      await s.updateHost(host.name, { scope });
      await s.audit({
        at,
        actor: req.principal.name,
        action: 'host.assign',
        target: scope ?? host.name,
        detail: { host: host.name, from: host.scope, to: scope },
      });
    });
    await ctx.bus.publish(CHANNELS.tree, 'hosts'); // which hosts are beneath which nodes changed (metrics-scope.ts)
    return viewOf(host.name, req);
  });

  /** POST /hosts/:name/approve: the next join under this name (within JOIN_APPROVAL_MS) replaces the host. */
  api.post('/hosts/:name/approve', { config: { access: 'server-admin' } }, async (req): Promise<T.HostView> => {
    const host = await hostOf(req.params);
    const at = new Date();
    const until = new Date(at.getTime() + JOIN_APPROVAL_MS).toISOString();
    await ctx.store.tx(async (s) => {
      await s.updateHost(host.name, { joinApprovedUntil: until });
      await s.audit({
        at: at.toISOString(),
        actor: req.principal.name,
        action: 'host.approve',
        target: host.name,
        detail: { until, pending: host.pendingJoin },
      });
    });
    return viewOf(host.name, req);
  });

  /**
   * POST /hosts/:name/drain and /undrain: the scheduler places nothing on a draining host and moves
   * what it placed there elsewhere (its loop acts on the flag; hand-placed clusters stay). The
   * server's admin, or a deployer of the node the host is assigned to.
   */
  for (const [path, draining] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    api.post(`/hosts/:name/${path}`, { config: { access: 'deployer' } }, async (req): Promise<T.HostView> => {
      const host = await hostOf(req.params);
      if (!isServerAdmin(req.principal)) {
        if (host.scope === null) {
          throw new NoopsError('NOOPS_E_FORBIDDEN', `host ${host.name} is not assigned to any node: only the admin may ${path} it`, {
            hint: `ask the admin to ${path} it, or to assign it: \`noops host assign ${host.name} --scope TAG\``,
          });
        }
        authorize(req.principal, host.scope, 'deployer');
      }
      const at = new Date().toISOString();
      await ctx.store.tx(async (s) => {
        await s.schedule.setHostDraining(host.name, draining);
        await s.audit({
          at,
          actor: req.principal.name,
          action: `host.${path}`,
          target: host.scope ?? host.name,
          detail: { host: host.name, was: host.draining === true },
        });
      });
      return viewOf(host.name, req);
    });
  }

  /** DELETE /hosts/:name: forgets a host (its token stops working at once); it must be in no cluster. */
  api.delete('/hosts/:name', { config: { access: 'server-admin' } }, async (req): Promise<T.HostView> => {
    const host = await hostOf(req.params);
    const view = await viewOf(host.name, req);
    const clusters = (await ctx.store.listClusters()).filter((c) => c.hosts.includes(host.name)).map((c) => c.tag);
    if (clusters.length > 0) {
      throw new NoopsError('NOOPS_E_INPUT', `host ${host.name} is in ${clusters.length} cluster(s): ${clusters.join(', ')}`, {
        hint: 'take it out of those clusters first (`noops cluster set -t TAG --hosts ...`)',
      });
    }
    await ctx.store.tx(async (s) => {
      await s.deleteHost(host.name);
      await s.setMeta(AGENT_TOKENS_CHANGED, revocationMark()); // other servers forget its token within a second
      await s.audit({
        at: new Date().toISOString(),
        actor: req.principal.name,
        action: 'host.rm',
        target: host.name,
        detail: { scope: host.scope, address: host.address },
      });
    });
    principals.forgetAgent(host.name);
    ctx.reports.forget(host.name); // its processes left the store with it
    capacitiesOf(ctx).forget(host.name); // and what it offered: if it joins again, its first report is written
    await ctx.bus.publish(CHANNELS.tree, 'hosts'); // and its scope with it (metrics-scope.ts)
    return view;
  });
}
