/** `noops undeploy -t TAG`: stop a cluster's instances, in batches, recorded in its history (docs/rollouts.md). */
import type { Command } from 'commander';
import { apiOf } from './common.js';
import { followAndFinish, startFollowed } from './deploy.js';
import { policyOf, withPolicyFlags } from './policy-flags.js';

export function registerUndeploy(p: Command): void {
  withPolicyFlags(
    p
      .command('undeploy')
      .description(
        'stop every instance of the cluster TAG, in its batches (each host drained first), and follow it; ' +
          'recorded in `noops history` (kind undeploy); steer it with `noops deploy pause|resume|abort`; a deploy starts the cluster again',
      )
      .requiredOption('-t, --tag <tag>', "the cluster's tag"),
  )
    .option('--no-wait', 'start the undeploy and return at once')
    .option('--json', 'print the deployment as JSON (the progress goes to stderr)')
    .action(async (o: Record<string, unknown> & { tag: string; wait: boolean; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      await followAndFinish(api, await startFollowed(api, { kind: 'undeploy', req: { tag: o.tag, policy: policyOf(o) } }, o), o);
    });
}
