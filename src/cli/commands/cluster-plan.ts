/** `noops cluster plan -t TAG [--json]`: where each instance of a scheduled cluster would go, and why hosts are left out (docs/scheduler.md). */
import type { Command } from 'commander';
import { clusterPlan, type ClusterPlanView } from '../../api/index.js';
import { apiOf } from './common.js';

/** Registers `plan` under `noops cluster`. */
export function registerClusterPlan(cluster: Command): void {
  cluster
    .command('plan')
    .description('show where each instance of a scheduled cluster would go now and why every other host is left out; nothing changes')
    .requiredOption('-t, --tag <tag>', "the cluster's tag")
    .option('--json', 'print the plan as JSON: {tag, placements: [{host, count}], filtered: [{host, reason}], unplaced}')
    .action(async (o: { tag: string; json?: boolean }, cmd: Command) => {
      const plan = await clusterPlan(apiOf(cmd), o.tag);
      if (o.json) return void process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      process.stdout.write(planText(plan));
    });
}

/** The plan as people read it: one line per placement, then the hosts left out with their reasons. */
export function planText(plan: ClusterPlanView): string {
  const placed = plan.placements.reduce((n, p) => n + p.count, 0);
  const lines = [`${plan.tag}: ${placed} instance(s) placed${plan.unplaced > 0 ? `, ${plan.unplaced} could not be placed` : ''}`];
  for (const p of plan.placements) lines.push(`  on       ${p.host}${p.count > 1 ? ` x${p.count}` : ''}`);
  // a host of the cluster named in `filtered` takes no more of it (a fixed port, cores, memory)
  const on = new Set(plan.placements.map((p) => p.host));
  for (const f of plan.filtered) lines.push(`  ${on.has(f.host) ? 'no more' : 'not on '}  ${f.host}: ${f.reason}`);
  return `${lines.join('\n')}\n`;
}
