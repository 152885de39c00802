/**
 * `noops root allow|deny|ls`: where processes may run as root. Without a grant on a service's
 * node (or a node above it), a release whose noops.yaml says `user: root` is refused at deploy,
 * and agents never start a process as uid 0. The server's admin token only.
 */
import type { Command } from 'commander';
import { json, table } from '../output.js';
import { apiOf } from './common.js';

export function registerRoot(p: Command): void {
  const r = p.command('root').description("allow processes to run as root under a node of the tree (the server's admin only)");
  r.command('allow')
    .description('processes under the node may run as root (`user: root` in noops.yaml)')
    .requiredOption('--scope <tag>', 'the node, e.g. cop.acme_owt.web_pdl.shop_service.api_job.web')
    .option('--json', 'print JSON')
    .action(async (o: { scope: string; json?: boolean }, cmd: Command) => {
      const g = await apiOf(cmd).allowRoot(o.scope);
      if (o.json) return json([g]);
      process.stdout.write(`root allowed under ${g.scope}\n`);
    });
  r.command('deny')
    .description('take back `root allow` (what runs as root keeps running until its next deploy or restart)')
    .requiredOption('--scope <tag>', 'the node root was allowed on')
    .option('--json', 'print JSON')
    .action(async (o: { scope: string; json?: boolean }, cmd: Command) => {
      const g = await apiOf(cmd).denyRoot(o.scope);
      if (o.json) return json([g]);
      process.stdout.write(`root no longer allowed under ${g.scope}\n`);
    });
  r.command('ls')
    .description('the nodes under which processes may run as root')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).rootGrants();
      if (o.json) return json(rows);
      table(rows, ['scope', 'createdBy', 'createdAt']);
    });
}
