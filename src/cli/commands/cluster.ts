/** `noops cluster set|apply|ls`: a cluster's hosts (or its count, for the scheduler) and policy. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { NoopsError } from '../../errors/index.js';
import type { ClusterView } from '../../api/index.js';
import { json, table } from '../output.js';
import { apiOf, parseList } from './common.js';
import { policyOf, withPolicyFlags } from './policy-flags.js';
import { registerClusterPlan } from './cluster-plan.js';
import { describeSchedule, scheduleOf, withScheduleFlags, type ScheduleFlags } from './schedule-flags.js';

export function registerCluster(p: Command): void {
  const c = p.command('cluster').description("a cluster's hosts and deploy policy");
  withScheduleFlags(
    withPolicyFlags(
      c
        .command('set')
        .description(
          'set the hosts of a cluster, or a count the scheduler places (creates its tree nodes on first use), and its deploy policy',
        )
        .requiredOption('-t, --tag <tag>', "the cluster's full tag, e.g. cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod")
        .option('--hosts <h1,h2,...>', 'the host names (as `noops hosts` lists them); may be left out to change only the policy'),
    ),
  )

    .option('--canary', "policy: every deploy's first batch is a canary that waits for `noops deploy promote`")
    .option('--no-canary', 'policy: no canary')
    .option(
      '--driver <process|container>',
      "policy: how the jobs' processes run when their noops.yaml does not say `driver:` (docs/containers.md#which-driver-a-job-runs-with)",
    )
    .option(
      '--yes',
      'go ahead when hosts leave the cluster: what the cluster runs there stops (without it, nothing changes and the command says what would stop)',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        o: Record<string, unknown> &
          ScheduleFlags & { tag: string; hosts?: string; canary?: boolean; driver?: string; yes?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const policy = {
          ...policyOf(o),
          ...(o.canary === undefined ? {} : { canary: o.canary }),
          ...(o.driver === undefined ? {} : { driver: o.driver }),
        };
        const schedule = scheduleOf(o);
        const view = await apiOf(cmd).setCluster({
          tag: o.tag,
          hosts: o.hosts ? parseList(o.hosts) : undefined,
          policy: Object.keys(policy).length ? policy : undefined,
          yes: o.yes,
          ...(schedule && { schedule }),
        });
        if (o.json) return json([view]);
        const keys = Object.entries(view.policy).filter(([k]) => k !== 'version' && k !== 'env');
        process.stdout.write(
          `${view.tag}: ${placementOf(view)}${keys.length ? `\n  policy: ${keys.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')}` : ''}\n`,
        );
        process.stdout.write(stoppingText(view));
      },
    );
  c.command('apply')
    .description('set clusters from a cluster.conf (YAML: a cluster: section, then one section per job tag)')
    .requiredOption('-f, --file <file>', 'the cluster.conf')
    .option(
      '--yes',
      'go ahead when hosts leave a cluster: what it runs there stops (without it, nothing changes and the command says what would stop)',
    )
    .option('--json', 'print JSON')
    .action(async (o: { file: string; yes?: boolean; json?: boolean }, cmd: Command) => {
      let conf: string;
      try {
        conf = readFileSync(o.file, 'utf8');
      } catch (err) {
        throw new NoopsError('NOOPS_E_INPUT', `cannot read ${o.file}: ${(err as Error).message}`);
      }
      const views = await apiOf(cmd).applyClusterConf({ conf, yes: o.yes });
      if (o.json) return json(views);
      for (const v of views) process.stdout.write(`${v.tag}: ${placementOf(v)}\n${stoppingText(v)}`);
    });
  registerClusterPlan(c); // `cluster plan` (cluster-plan.ts)
  c.command('ls')
    .description('every cluster, its hosts and current version')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).clusters();
      if (o.json) return json(rows);
      // a scheduled cluster shows its count before the hosts the scheduler placed it on
      table(
        rows.map((r) => ({
          ...r,
          // a host with several replicas shows its count: h1x3
          hosts: r.schedule
            ? `count ${r.schedule.count}: ${r.hosts.map((h) => (r.replicas?.[h] ? `${h}x${r.replicas[h]}` : h)).join(',')}`
            : r.hosts,
        })),
        ['tag', 'currentVersion', 'hosts'],
      );
    });
}

/** Its hosts, or for a scheduled cluster its spec and where it is placed now. */
function placementOf(v: ClusterView): string {
  if (!v.schedule) return v.hosts.join(', ');
  return `${describeSchedule(v.schedule)}; placed on ${v.hosts.length ? v.hosts.join(', ') : 'no host yet'}`;
}

/** What hosts leaving a cluster stop, and the undeploy that does it (empty when nothing stops). */
function stoppingText(v: ClusterView): string {
  if (!v.stopping) return '';
  const lines = v.stopping.stops.map((s) => `  stops    ${s.host}: ${s.version}`);
  return `${lines.join('\n')}\n  undeploy #${v.stopping.deployment} stops them; follow it with \`noops deploy status -t ${v.tag}\`\n`;
}
