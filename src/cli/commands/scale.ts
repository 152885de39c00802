/** `noops scale -t TAG --count N`: how many instances a scheduled cluster runs (docs/scheduler.md, "Scheduled clusters"). */
import type { Command } from 'commander';
import { NoopsError } from '../../errors/index.js';
import { scaleCluster } from '../../api/index.js';
import { apiOf } from './common.js';
import { planText } from './cluster-plan.js';

export function registerScale(p: Command): void {
  p.command('scale')
    .description('set how many instances a scheduled cluster runs: the scheduler adds them, or removes them (drained first, as any stop)')
    .requiredOption('-t, --tag <tag>', "the cluster's tag")
    .requiredOption('--count <n>', 'the number of instances (0 stops them all)')
    .option('--json', 'print where they will go as JSON')
    .action(async (o: { tag: string; count: string; json?: boolean }, cmd: Command) => {
      const count = Number(o.count);
      if (!/^\d+$/.test(o.count) || !Number.isSafeInteger(count))
        throw new NoopsError('NOOPS_E_INPUT', `--count "${o.count}" is not a whole number`);
      const plan = await scaleCluster(apiOf(cmd), o.tag, count);
      if (o.json) return void process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      process.stdout.write(planText(plan));
    });
}
