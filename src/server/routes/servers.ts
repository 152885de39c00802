/**
 * The servers of this database (several share one PostgreSQL, docs/servers.md): where each
 * answers, when it was last seen, and which control loops it leads now. Read from the store, so
 * every server answers the same list; `self` marks the one that answered.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type * as T from '../../api/index.js';
import type { ServerRow } from '../../lead/index.js';
import type { ServerContext } from '../context.js';
import { parseQuery } from './parse.js';

/**
 * The wire view of the servers, sorted by id; `selfId` is the answering server's id.
 *
 * @example serverViews([{ id: 'b', ... }, { id: 'a', ... }], 'a') // [{ id: 'a', ..., self: true }, { id: 'b', ..., self: false }]
 */
export function serverViews(rows: readonly ServerRow[], selfId: string): T.ServerView[] {
  return rows
    .map((r) => ({
      id: r.id,
      address: r.address,
      leads: [...r.leads].sort(),
      lastSeen: r.lastSeen,
      startedAt: r.startedAt,
      self: r.id === selfId,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function serverRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  // Any person's token, whatever its role or subtree (as GET /hosts): which servers run and what
  // they lead is how the service is operated, not any team's data. Agents are refused: they are
  // given their servers (`--server`) and have no use for the list.
  api.get('/servers', { config: { access: 'viewer' } }, async (req): Promise<T.ServersView> => {
    parseQuery(z.object({}).strict(), req.query, 'servers');
    return { servers: serverViews(await ctx.leadership.servers(), ctx.leadership.serverId) };
  });
}
