/** `noops token create`: a team token that may act only under one node of the tree. */
import type { Command } from 'commander';
import { json } from '../output.js';
import { apiOf } from './common.js';

export function registerToken(p: Command): void {
  const t = p.command('token').description('API tokens');
  t.command('create')
    .description('create a team token limited to a part of the service tree (admin only)')
    .requiredOption('--name <team>', 'the team\'s name (appears in the audit log)')
    .requiredOption('--scope <tag>', 'the node the team may act on, e.g. cop.acme_owt.web')
    .option('--json', 'print JSON')
    .action(async (o: { name: string; scope: string; json?: boolean }, cmd: Command) => {
      const res = await apiOf(cmd).request<{ name: string; scope: string; token: string }>('POST', '/tokens', { name: o.name, scope: o.scope });
      if (o.json) return json([res]);
      process.stdout.write(`${res.token}\n`);
      process.stderr.write(`team ${res.name} may act under ${res.scope}; the token is shown only once\n`);
    });
}
