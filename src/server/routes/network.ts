/**
 * The containers' address pool (issue 17): `PUT /network` (`noops network set`: the server's
 * admin only, since it changes every host's network) and `GET /network` (`noops network show`:
 * any person's token sees the pool; a team sees the subnets of its own hosts only, the ones
 * `noops hosts` shows it). The checks and the book are network/'s; every set is audited
 * (`network.set`) and told to every server on the bus.
 */
import type { FastifyInstance } from 'fastify';
import type { NetworkView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { checkSpec } from '../../network/index.js';
import { isServerAdmin } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { hostViews } from './views.js';

/** The view `who` may see: every subnet for the admin, its own hosts' for a team. */
async function viewFor(ctx: ServerContext, who: Principal): Promise<NetworkView> {
  const visible = isServerAdmin(who) ? undefined : new Set((await hostViews(ctx, who)).map((h) => h.name));
  const view = await ctx.network.view(visible && ((host) => visible.has(host)));
  if (view === undefined) throw new NoopsError('NOOPS_E_NETWORK_UNSET', 'no address pool is set on this server');
  return view;
}

export async function networkRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.put('/network', { config: { access: 'server-admin' } }, async (req): Promise<NetworkView> => {
    const spec = checkSpec(req.body);
    // the hosts running a container now, as the read model has them (the store's rows follow within a second)
    const running = ctx.reports.instances().flatMap((r) => (r.container === null ? [] : [r.host]));
    await ctx.network.set(spec, req.principal.name, running);
    return viewFor(ctx, req.principal);
  });

  api.get('/network', { config: { access: 'viewer' } }, async (req): Promise<NetworkView> => viewFor(ctx, req.principal));
}
