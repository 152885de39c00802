/**
 * `noops release -u REPO -t TAG -v COMMIT`: one click: build the commit (its tests run in the
 * build), then deploy it to the cluster and follow the rollout.
 */
import type { Command } from 'commander';
import { runBuildAndFollow } from './build.js';
import { followAndFinish } from './deploy.js';
import { apiOf, parseList } from './common.js';
import { policyOf, withPolicyFlags } from './policy-flags.js';

export function registerRelease(p: Command): void {
  withPolicyFlags(p.command('release')
    .description('build REPO at COMMIT (with its tests), then deploy it to the cluster TAG: build + test + deploy in one')
    .requiredOption('-u, --repo <repo>', 'git repository: any URL git accepts, file:// and paths included')
    .requiredOption('-t, --tag <tag>', 'the cluster\'s tag (its job is the one built)')
    .requiredOption('-v, --ref <commit>', 'commit, tag or branch to build and deploy'))
    .option('--canary <hosts>', 'these hosts first, as a canary that waits for `noops deploy promote`')
    .option('--no-wait', 'return once the deploy has started')
    .option('--json', 'print the deployment as JSON (build log and progress go to stderr)')
    .action(async (o: Record<string, unknown> & { repo: string; tag: string; ref: string; canary?: string; wait: boolean; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      const out = o.json ? process.stderr : process.stdout;
      // the build takes the cluster tag and builds its job
      const build = await runBuildAndFollow(api, { repo: o.repo, tag: o.tag, ref: o.ref }, out);
      out.write(`built ${build.job} ${build.version}; deploying it\n`);
      const start = await api.deploy({ tag: o.tag, version: build.version!, policy: policyOf(o), canary: o.canary ? parseList(o.canary) : undefined });
      await followAndFinish(api, start, o);
    });
}
