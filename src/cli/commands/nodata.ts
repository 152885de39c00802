/**
 * `noops nodata add|ls|rm`: nodata rules (issue 15). A series beneath the node that stops
 * reporting for `--after` gets the `--mock` value pushed every step, as Falcon's nodata does,
 * so strategies alert on silence.
 */
import type { Command } from 'commander';
import { addNodata, listNodata, removeNodata, type NodataView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';
import { idArg, numberFlag } from './strategy-manage.js';

function describe(r: NodataView): string {
  return `#${r.id} ${r.selector} ${r.metric}${r.tags ? `{${r.tags}}` : ''} after ${r.after}s mock ${r.mock}${r.step === null ? '' : ` every ${r.step}s`}`;
}

export function registerNodata(p: Command): void {
  const n = p.command('nodata').description("mock values for series that stop reporting (Open-Falcon's nodata)");
  n.command('add')
    .description('add a nodata rule at a node (deployer on the node)')
    .requiredOption('-t, --tag <selector>', 'the node: a selector (cop=xiaomi,owt=miliao) or a tag')
    .requiredOption('--metric <metric>', 'the metric, e.g. agent.alive')
    .option('--tags <k=v,...>', 'tags the series must also have')
    .requiredOption('--after <duration>', 'silent this long: 120s, 5m')
    .requiredOption('--mock <number>', 'the value pushed, e.g. -1')
    .option('--step <seconds>', "seconds between mock points (default: the series' own step)")
    .option('--json', 'print JSON')
    .action(
      async (
        o: { tag: string; metric: string; tags?: string; after: string; mock: string; step?: string; json?: boolean },
        cmd: Command,
      ) => {
        const step = numberFlag(o.step, '--step');
        if (step !== undefined && (!Number.isInteger(step) || step <= 0))
          throw new NoopsError('NOOPS_E_INPUT', `--step "${o.step}" is not a positive whole number of seconds`);
        const rule = await addNodata(apiOf(cmd), {
          selector: o.tag,
          metric: o.metric,
          ...(o.tags !== undefined && { tags: o.tags }),
          after: o.after,
          mock: numberFlag(o.mock, '--mock') as number,
          ...(step !== undefined && { step }),
        });
        if (o.json) return json([rule]);
        process.stdout.write(`nodata rule added: ${describe(rule)}\n`);
      },
    );
  n.command('ls')
    .description('list nodata rules')
    .option('-t, --tag <selector>', 'only those at or under this node')
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; json?: boolean }, cmd: Command) => {
      const rows = await listNodata(apiOf(cmd), o.tag);
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({ ...r, step: r.step ?? '' })),
        ['id', 'selector', 'metric', 'tags', 'after', 'mock', 'step'],
      );
    });
  n.command('rm <id>')
    .description('remove a nodata rule')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const rule = await removeNodata(apiOf(cmd), idArg(id, 'nodata'));
      if (o.json) return json([rule]);
      process.stdout.write(`nodata rule removed: ${describe(rule)}\n`);
    });
}
