/** `noops deploy` and `noops rollback`: start a deployment and follow it to its end. */
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client.js';
import type { DeploymentView } from '../../api/types.js';
import { json } from '../output.js';
import { apiOf, parseSeconds, sleep } from './common.js';

/** How often a running deployment is fetched. */
const POLL_MS = 250;

/** Follows a deployment until it ends, printing each host's result as it changes. */
export async function follow(api: ApiClient, start: DeploymentView, out: NodeJS.WritableStream | null): Promise<DeploymentView> {
  out?.write(`${start.kind} #${start.id}: ${start.tag} -> ${start.version} on ${start.hostCount} host(s): ${start.hosts.join(', ')}\n`);
  const seen: Record<string, string> = {};
  let d = start;
  for (;;) {
    for (const [host, result] of Object.entries(d.hostResults)) {
      if (seen[host] !== result) {
        seen[host] = result;
        if (result !== 'pending') out?.write(`  ${host}: ${result}\n`);
      }
    }
    if (d.status !== 'running') break;
    await sleep(POLL_MS);
    d = await api.deployment(start.id);
  }
  out?.write(`${d.kind} #${d.id} ${d.status}${d.message ? `: ${d.message}` : ''}\n`);
  return d;
}

function finish(d: DeploymentView, asJson: boolean | undefined): void {
  if (asJson) json([d]);
  if (d.status !== 'succeeded') process.exitCode = 1;
}

export function registerDeploy(p: Command): void {
  p.command('deploy')
    .description('deploy release VERSION to every host of the cluster TAG, and wait until all run it')
    .requiredOption('-t, --tag <tag>', 'the cluster\'s tag (ends in cluster.NAME; a unique part is enough)')
    .option('-v, --version <version>', 'the release (9-character commit); default: the cluster.conf\'s version')
    .option('--timeout <duration>', 'fail if not every host runs it within this time (default 5m)')
    .option('--no-wait', 'start the deploy and return at once')
    .option('--json', 'print the deployment as JSON')
    .action(async (o: { tag: string; version?: string; timeout?: string; wait: boolean; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      const timeout = o.timeout ? parseSeconds(o.timeout, '--timeout') : undefined;
      const start = await api.deploy({ tag: o.tag, version: o.version, timeout });
      if (!o.wait) {
        if (o.json) json([start]);
        else process.stdout.write(`deploy #${start.id} started: ${start.tag} -> ${start.version}\n`);
        return;
      }
      finish(await follow(api, start, o.json ? process.stderr : process.stdout), o.json);
    });

  p.command('rollback')
    .description('deploy an earlier release again (default: the one before the current); recorded like any deploy')
    .requiredOption('-t, --tag <tag>', 'the cluster\'s tag')
    .option('--to <version>', 'the version to go back to (any in `noops history`)')
    .option('--json', 'print the deployment as JSON')
    .action(async (o: { tag: string; to?: string; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      const start = await api.rollback({ tag: o.tag, to: o.to });
      finish(await follow(api, start, o.json ? process.stderr : process.stdout), o.json);
    });
}
