/**
 * `noops servers [--json]`: the servers of this database (several share one PostgreSQL,
 * docs/servers.md), what each leads, when each was last seen, and which one answered.
 *
 *      ID        ADDRESS                LEADS    LAST_SEEN
 *   *  srv-a1b2  http://10.0.0.5:7700   rollout  1s ago
 *      srv-c3d4  http://10.0.0.6:7700   -        0s ago
 */
import type { Command } from 'commander';
import type { ServerView } from '../../api/index.js';
import { ago, json, table } from '../output.js';
import { apiOf } from './common.js';

/** One server as `--json` prints it: id, address, leads, lastSeen first (the fields), then the rest. */
export function serverJson(s: ServerView): ServerView {
  return { id: s.id, address: s.address, leads: s.leads, lastSeen: s.lastSeen, startedAt: s.startedAt, self: s.self };
}

/** Prints the servers as a table: `*` marks the one that answered, `-` a server that leads nothing. */
export function printServers(servers: readonly ServerView[], out: NodeJS.WritableStream = process.stdout, now = Date.now()): void {
  table(
    servers.map((s) => ({
      '': s.self ? '*' : '',
      id: s.id,
      address: s.address,
      leads: s.leads.length > 0 ? s.leads.join(',') : '-',
      lastSeen: ago(s.lastSeen, now),
    })),
    ['', 'id', 'address', 'leads', 'lastSeen'],
    out,
  );
}

export function registerServers(p: Command): void {
  p.command('servers')
    .description(
      'the servers of this database: address, the control loops each leads (rollout, ...), last seen; * marks the one that answered',
    )
    .option('--json', 'print JSON: [{id, address, leads, lastSeen, startedAt, self}]')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { servers } = await apiOf(cmd).serverList();
      if (o.json) return json(servers.map(serverJson));
      printServers(servers);
    });
}
