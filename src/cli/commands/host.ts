/**
 * `noops host`: the admin's hand on hosts. Assign one to a node of the tree (a team may then use
 * it in its clusters), approve a join under a live host's name, remove a host; drain one for the
 * scheduler and undrain it (the admin, or a deployer of the host's node).
 */
import type { Command } from 'commander';
import type * as T from '../../api/index.js';
import { drainHost, undrainHost } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json } from '../output.js';
import { apiOf } from './common.js';

function print(h: T.HostView, what: string, asJson: boolean | undefined): void {
  if (asJson) {
    json([h]);
    return;
  }
  process.stdout.write(`${what}\n`);
}

export function registerHost(p: Command): void {
  const h = p
    .command('host')
    .description('manage one host: assign it to the tree, approve its join, remove it (admin only), drain it for the scheduler');
  h.command('assign')
    .description('put a host under a node of the tree: teams of that subtree may then use it in their clusters')
    .argument('<host>', "the host's name")
    .option('--scope <tag>', 'the node, e.g. cop.acme_owt.web')
    .option('--none', 'take the host out of the tree again (only the admin may use it)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { scope?: string; none?: boolean; json?: boolean }, cmd: Command) => {
      if ((o.scope === undefined) === (o.none === undefined)) {
        throw new NoopsError('NOOPS_E_INPUT', 'give --scope TAG, or --none to unassign');
      }
      const res = await apiOf(cmd).assignHost(name, o.none ? null : o.scope!);
      print(res, res.scope ? `${res.name} belongs to ${res.scope}` : `${res.name} belongs to no node`, o.json);
    });
  h.command('approve')
    .description('let the next join under this name replace the host (for the same machine joining again)')
    .argument('<host>', "the host's name")
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const res = await apiOf(cmd).approveHost(name);
      const from = res.pendingJoin
        ? ` (a join from ${res.pendingJoin.address ?? 'an unknown address'} at ${res.pendingJoin.at} is waiting)`
        : '';
      print(res, `the next join as ${res.name} within 10 minutes replaces it${from}`, o.json);
    });
  for (const [verb, description, done] of [
    [
      'drain',
      'the scheduler places nothing more on the host and moves what it placed there elsewhere (the admin, or a deployer of its node)',
      'is draining: the scheduler moves what it placed there elsewhere',
    ],
    ['undrain', 'the host takes placements again', 'takes placements again'],
  ] as const) {
    h.command(verb)
      .description(description)
      .argument('<host>', "the host's name")
      .option('--json', 'print JSON')
      .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
        const api = apiOf(cmd);
        const res = verb === 'drain' ? await drainHost(api, name) : await undrainHost(api, name);
        print(res, `${res.name} ${done}`, o.json);
      });
  }
  h.command('rm')
    .description('forget a host: its token stops working at once (take it out of its clusters first)')
    .argument('<host>', "the host's name")
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const res = await apiOf(cmd).removeHost(name);
      print(res, `removed ${res.name}`, o.json);
    });
}
